"""Drives one command (virsh console ...) on a pseudo-terminal, line by line from stdin.

  python3 console_pty.py COMMAND [ARGS...]

The command runs as the session leader of a new pty (virsh console needs a tty). Requests,
one per line on stdin; each is answered with one line on stdout:

  expect SECONDS TEXT   waits until TEXT appears in the output not yet consumed by an earlier
                        expect -> "found", or "timeout <repr of the unconsumed output>"
  send TEXT             writes TEXT to the terminal (\\r, \\n and \\x1d escapes are decoded) -> "sent"
  pid                   -> the command's pid
  wait SECONDS          waits for the command to exit -> "exit <code or -signal> <repr of all output>",
                        or "running"
"""
import os
import pty
import select
import signal
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    os.environ["LC_ALL"] = "C"
    os.execvp(sys.argv[1], sys.argv[1:])

output = b""
consumed = 0
status = None


def pump(timeout):
    """Reads what the terminal has within `timeout` seconds; notes the child's exit."""
    global output, status
    ready, _, _ = select.select([fd], [], [], timeout)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        output += data
    if status is None:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(code)


def answer(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    verb, _, rest = line.rstrip("\n").partition(" ")
    if verb == "expect":
        seconds, _, text = rest.partition(" ")
        deadline = time.monotonic() + float(seconds)
        want = text.encode()
        while want not in output[consumed:] and time.monotonic() < deadline:
            pump(0.05)
        at = output.find(want, consumed)
        if at >= 0:
            consumed = at + len(want)
            answer("found")
        else:
            answer("timeout " + repr(output[consumed:]))
    elif verb == "send":
        data = rest.encode().decode("unicode_escape").encode("latin-1")
        os.write(fd, data)
        answer("sent")
    elif verb == "pid":
        answer(str(pid))
    elif verb == "wait":
        deadline = time.monotonic() + float(rest)
        while status is None and time.monotonic() < deadline:
            pump(0.05)
        # Whatever is left in the terminal.
        while select.select([fd], [], [], 0)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
        answer("running" if status is None else "exit %d %r" % (status, output))
    else:
        answer("unknown request " + repr(line))

if status is None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
