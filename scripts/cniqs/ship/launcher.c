/* cni-quickstart node executable: CPython embedded, the plugin frozen in as bytecode.
 *
 * The runtime execs <bin dir>/cni-quickstart (a symlink to this file in cni-quickstart.d/) with no
 * arguments: CNI_* variables in the environment, the network config on stdin. This starts an isolated
 * interpreter (no site, no environment variables, no user site, no bytecode writing, UTF-8 mode) whose
 * only import path is lib/ beside the real executable (the extension modules the plugin needs), and
 * whose pure-Python modules, the plugin's and the stdlib's it imports, are frozen into the executable
 * (cniqs_frozen, generated at build time by cniqs.ship.embed). Then it runs cni_quickstart.main.main().
 *
 * The DaemonSet's node installer is built from the same source with -DCNIQS_MAIN='"cniqs.install.nodeinstall"': the
 * module whose main() it runs (cniqs.ship.embed freezes that module's imports instead of the plugin's).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern const struct _frozen cniqs_frozen[];

#ifndef CNIQS_MAIN
#define CNIQS_MAIN "cni_quickstart.main"
#endif

static const wchar_t RUN[] = L"import sys\nfrom " CNIQS_MAIN " import main\nsys.exit(main())\n";

/* The folder holding the real executable (symlinks resolved): lib/ is found from there. */
static int exe_dir(char *out, size_t size, const char *argv0) {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n > 0) {
        path[n] = '\0';
    } else if (argv0 == NULL || realpath(argv0, path) == NULL) {
        return -1;
    }
    if (snprintf(out, size, "%s", dirname(path)) >= (int)size) {
        return -1;
    }
    return 0;
}

static void fail(const char *msg) {
    /* A CNI error on stdout, as the spec asks, when the interpreter itself cannot start. */
    printf("{\"cniVersion\": \"0.3.1\", \"code\": 199, \"msg\": \"internal error in cni-quickstart: cannot start\", "
           "\"details\": \"%s\"}\n", msg);
    fflush(stdout);
    exit(1);
}

int main(int argc, char **argv) {
    PyStatus status;
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1; /* JSON over stdio is UTF-8 whatever the node's locale */
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status)) {
        fail("pre-initialization failed");
    }

    char dir[PATH_MAX];
    char lib[PATH_MAX + 8];
    if (exe_dir(dir, sizeof(dir), argc > 0 ? argv[0] : NULL) != 0
        || snprintf(lib, sizeof(lib), "%s/lib", dir) >= (int)sizeof(lib)) {
        fail("cannot find the executable's folder");
    }
    wchar_t *wdir = Py_DecodeLocale(dir, NULL);
    wchar_t *wlib = Py_DecodeLocale(lib, NULL);
    if (wdir == NULL || wlib == NULL) {
        fail("cannot decode the executable's folder");
    }

    PyImport_FrozenModules = cniqs_frozen;

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.user_site_directory = 0;
    config.pathconfig_warnings = 0;
    config.install_signal_handlers = 1; /* as python3 does: SIGPIPE ignored, SIGINT -> KeyboardInterrupt */
    config.module_search_paths_set = 1;
    status = PyWideStringList_Append(&config.module_search_paths, wlib);
    if (!PyStatus_Exception(status)) {
        status = PyConfig_SetString(&config, &config.home, wdir);
    }
    if (!PyStatus_Exception(status)) {
        status = PyConfig_SetString(&config, &config.run_command, RUN);
    }
    if (!PyStatus_Exception(status)) {
        status = PyConfig_SetBytesArgv(&config, argc, argv);
    }
    if (!PyStatus_Exception(status)) {
        status = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    PyMem_RawFree(wdir);
    PyMem_RawFree(wlib);
    if (PyStatus_Exception(status)) {
        fail(status.err_msg != NULL ? status.err_msg : "initialization failed");
    }
    return Py_RunMain();
}
