/* LD_PRELOAD shim for tests/power_loss.rs: a disk that keeps only what was fsynced.
 *
 * Every fsync()/fdatasync() of a file whose name ends in one of the suffixes of
 * LOOKOUT_SNAPSHOT_SUFFIXES (comma-separated) first lets the real call make the data durable,
 * then copies the whole file to LOOKOUT_SNAPSHOT_DIR/<basename> (written to a temporary name and
 * renamed, so a reader never sees half a copy). After a kill -9, the snapshot folder holds
 * exactly what a disk would hold after a power cut at that moment: the contents as of each
 * file's last sync, nothing written since. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int wanted(const char *path) {
    const char *suffixes = getenv("LOOKOUT_SNAPSHOT_SUFFIXES");
    if (!suffixes) return 0;
    size_t plen = strlen(path);
    char buf[1024];
    strncpy(buf, suffixes, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
        size_t slen = strlen(s);
        if (slen && plen >= slen && strcmp(path + plen - slen, s) == 0) return 1;
    }
    return 0;
}

static void snapshot(int fd) {
    const char *dir = getenv("LOOKOUT_SNAPSHOT_DIR");
    if (!dir) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    if (!wanted(path)) return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, base);
    snprintf(dst, sizeof dst, "%s/%s", dir, base);
    pthread_mutex_lock(&lock);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in >= 0 && out >= 0) {
        char chunk[1 << 16];
        ssize_t r;
        int ok = 1;
        while ((r = read(in, chunk, sizeof chunk)) > 0) {
            if (write(out, chunk, (size_t)r) != r) { ok = 0; break; }
        }
        if (r < 0) ok = 0;
        close(out);
        out = -1;
        if (ok) rename(tmp, dst);
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    pthread_mutex_unlock(&lock);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}
