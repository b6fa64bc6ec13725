#!/usr/bin/env python3
"""Runs a command under the system-call filter of a systemd unit, without systemd.

usage: seccomp_exec.py ALLOWED_SYSCALLS_FILE FAMILIES -- COMMAND [ARGS...]

ALLOWED_SYSCALLS_FILE lists one system call name per line (what the unit's SystemCallFilter=
lines leave allowed, expanded by `systemd-analyze syscall-filter`); every other call fails with
EPERM, as SystemCallErrorNumber=EPERM makes systemd do. FAMILIES is a comma-separated list of
address family numbers socket() may create (RestrictAddressFamilies=); others fail with
EAFNOSUPPORT. The filter is loaded through libseccomp (the library systemd itself uses) with
no_new_privs set, then the command is exec'd: it and its children (GStreamer's plugin scanner)
run filtered, as under the unit. Names this kernel/libseccomp does not know are skipped.
"""
import ctypes
import ctypes.util
import errno
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000


def scmp_act_errno(e):
    return 0x00050000 | (e & 0x0000FFFF)


SCMP_CMP_EQ = 4


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def main():
    sep = sys.argv.index("--")
    allowed_file, families = sys.argv[1], sys.argv[2]
    command = sys.argv[sep + 1:]
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(scmp_act_errno(errno.EPERM))
    if not ctx:
        sys.exit("seccomp_init failed")
    names = [l.strip() for l in open(allowed_file) if l.strip() and not l.startswith("#")]
    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    allowed = 0
    for name in names:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0 or nr == socket_nr:
            continue
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, None) == 0:
            allowed += 1
    if "socket" in names:
        # socket(): only the listed families; any other family fails with EAFNOSUPPORT.
        fams = [int(f) for f in families.split(",") if f]
        for fam in fams:
            cmp = (ScmpArgCmp * 1)(ScmpArgCmp(0, SCMP_CMP_EQ, fam, 0))
            if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, socket_nr, 1, cmp) != 0:
                sys.exit("cannot add the socket rule")
        for fam in range(0, 46):
            if fam in fams:
                continue
            cmp = (ScmpArgCmp * 1)(ScmpArgCmp(0, SCMP_CMP_EQ, fam, 0))
            lib.seccomp_rule_add_array(ctx, scmp_act_errno(errno.EAFNOSUPPORT), socket_nr, 1, cmp)
    if lib.seccomp_load(ctx) != 0:
        sys.exit("seccomp_load failed: %s" % os.strerror(ctypes.get_errno()))
    sys.stderr.write("seccomp_exec: %d system calls allowed, families %s\n" % (allowed, families))
    sys.stderr.flush()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
