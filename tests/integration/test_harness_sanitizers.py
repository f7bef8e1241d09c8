"""The harness itself: a real sanitizer report in any process it starts
fails the test, and sanitizers exit with their own code, not the 1 that
error-path tests expect. Two tiny C programs compiled with
-fsanitize=address / -fsanitize=undefined produce the real reports."""
import os
import subprocess

from harness import (SANITIZER_EXIT, ClusterTestCase, Daemon, check_daemon_logs,
                     check_sanitizer_output, main, run_tool, sanitizer_env, wait_for)

HEAP_OVERFLOW = r"""
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	char *p = malloc(8);
	memset(p, 'x', 8);
	volatile int i = argc + 7;
	p[i] = 0; /* one past the end */
	free(p);
	return 0;
}
"""

SIGNED_OVERFLOW = r"""
#include <limits.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	volatile int big = INT_MAX;
	printf("%d\n", big + argc);
	return 0;
}
"""

CLEAN = "int main(void) { return 1; }\n"


class SanitizerCheckTest(ClusterTestCase):
    def build(self, name, source, *flags):
        src = os.path.join(self.tmp, name + ".c")
        with open(src, "w") as f:
            f.write(source)
        exe = os.path.join(self.tmp, name)
        r = subprocess.run(["cc", "-g", *flags, "-o", exe, src], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return exe

    def test_env_gives_sanitizers_their_own_exit_code(self):
        env = sanitizer_env({"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1"})
        self.assertEqual(env["ASAN_OPTIONS"], f"detect_leaks=1:halt_on_error=1:exitcode={SANITIZER_EXIT}")
        self.assertIn("halt_on_error=1", env["UBSAN_OPTIONS"])
        # An exit code set by the caller is kept.
        self.assertEqual(sanitizer_env({"ASAN_OPTIONS": "exitcode=3"})["ASAN_OPTIONS"],
                         "exitcode=3")

    def test_asan_report_of_a_tool_fails(self):
        exe = self.build("asan", HEAP_OVERFLOW, "-fsanitize=address")
        r = subprocess.run([exe], capture_output=True, text=True, env=sanitizer_env(dict(os.environ)))
        self.assertEqual(r.returncode, SANITIZER_EXIT, r.stderr)
        with self.assertRaisesRegex(AssertionError, "ERROR: AddressSanitizer: heap-buffer-overflow"):
            check_sanitizer_output(r.stderr, "asan")
        with self.assertRaisesRegex(AssertionError, "sanitizer report in the output of"):
            run_tool([exe])

    def test_ubsan_report_of_a_tool_fails(self):
        exe = self.build("ubsan", SIGNED_OVERFLOW, "-fsanitize=undefined")
        r = subprocess.run([exe], capture_output=True, text=True, env=sanitizer_env(dict(os.environ)))
        self.assertEqual(r.returncode, SANITIZER_EXIT, r.stderr)
        with self.assertRaisesRegex(AssertionError, "runtime error: signed integer overflow"):
            run_tool([exe])

    def test_clean_program_passes(self):
        exe = self.build("clean", CLEAN, "-fsanitize=address,undefined")
        self.assertEqual(run_tool([exe]).returncode, 1)

    def test_daemon_that_died_on_its_own_fails(self):
        # A "daemon" that dies of a heap overflow right away, as a master
        # would: the check of daemon logs (run by every ClusterTestCase's
        # tearDown) must see its report although nobody stopped it.
        exe = self.build("asan", HEAP_OVERFLOW, "-fsanitize=address")
        d = Daemon("crasher", [exe], self.cluster.env(), os.path.join(self.tmp, "crasher.log"),
                   "http://127.0.0.1:1")
        d.start()
        wait_for(lambda: d.proc.poll() is not None, what="crasher to die")
        d.log.close()
        self.assertEqual(d.proc.returncode, SANITIZER_EXIT)
        with self.assertRaisesRegex(AssertionError, "sanitizer report in the output of crasher"):
            check_daemon_logs([d])


if __name__ == "__main__":
    main()
