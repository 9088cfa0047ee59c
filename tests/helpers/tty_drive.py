#!/usr/bin/env python3
"""tty_drive.py - an interactive session on a real pty, driven like a person at a terminal.

    tty_drive.py DIR NAME STEP...

Starts SHELL (default: sh -i, which reads lines in canonical mode with the terminal's echo)
as the leader of a new session whose controlling terminal is a pty's slave side, writes
DIR/NAME.pid (the shell's pid = its session id) and DIR/NAME.pts (the slave, /dev/pts/N),
then runs the steps in order, typing into the master side:

    type:TEXT     type TEXT (Python escapes: \\n, \\x1b, \\x01, ...)
    typefile:F    type the bytes of file F (a secret that must not be on any command line)
    wait:FILE     wait until FILE exists (the test is ready, e.g. after a ctl command)
    noecho        wait until the terminal's ECHO is off (stty -echo took effect)
    echo          wait until it is on again
    see:TEXT      wait until TEXT appeared in what the terminal showed
    sleep:S       wait S seconds

and ends the session (types "exit"). Everything the terminal showed goes to DIR/NAME.out; why a
step failed to DIR/NAME.err.
Each wait gives up after 10 s times HW_TIME_SCALE, wait: after six times that (the test may
be changing the agent meanwhile); exit status 1, the step named on stderr.
"""
import os
import pty
import select
import sys
import termios
import time

DEADLINE_S = 10.0 * float(os.environ.get("HW_TIME_SCALE", "1"))


def main():
    out_dir, name, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
    shell = os.environ.get("SHELL_CMD", "sh -i").split()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PS1"] = "$ "
        os.environ["TERM"] = "dumb"
        os.execvp(shell[0], shell)
    shown = bytearray()

    def lflag():
        try:
            return termios.tcgetattr(fd)[3]
        except termios.error:
            return 0

    def pump(timeout):
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                shown.extend(os.read(fd, 65536))
            except OSError:
                return False
        return True

    def until(cond, what, times=1):
        end = time.time() + DEADLINE_S * times
        while not cond():
            if time.time() > end:
                msg = "gave up waiting for %s (ECHO %s); the terminal showed, last: %r" % (
                    what, "on" if lflag() & termios.ECHO else "off", bytes(shown[-200:]))
                sys.stderr.write("tty_drive: %s\n" % msg)
                with open(os.path.join(out_dir, name + ".err"), "w") as f:
                    f.write(msg)
                finish(1)
            pump(0.02)

    def finish(rc):
        try:
            os.write(fd, b"\nexit\n")
            end = time.time() + 3
            while time.time() < end and pump(0.05):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
        except OSError:
            pass
        with open(os.path.join(out_dir, name + ".out"), "wb") as f:
            f.write(shown)
        sys.exit(rc)

    until(lambda: b"$ " in shown, "the first prompt")
    with open(os.path.join(out_dir, name + ".pts"), "w") as f:
        f.write(os.readlink("/proc/%d/fd/0" % pid))
    with open(os.path.join(out_dir, name + ".pid"), "w") as f:
        f.write(str(pid))

    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "type":
            os.write(fd, arg.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "typefile":
            with open(arg, "rb") as f:
                os.write(fd, f.read())
        elif kind == "wait":
            until(lambda: os.path.exists(arg), step, 6)
        elif kind == "noecho":
            until(lambda: not lflag() & termios.ECHO, step)
        elif kind == "echo":
            until(lambda: lflag() & termios.ECHO, step)
        elif kind == "see":
            want = arg.encode().decode("unicode_escape").encode("latin-1")
            until(lambda: want in shown, step)
        elif kind == "sleep":
            end = time.time() + float(arg)
            while time.time() < end:
                pump(0.02)
        else:
            sys.stderr.write("tty_drive: unknown step %s\n" % step)
            finish(2)
        pump(0)
    finish(0)


if __name__ == "__main__":
    main()
