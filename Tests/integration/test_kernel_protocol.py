"""jupyter_kernel_test's conformance suite, with every sample it supports filled in."""
import unittest

import jupyter_kernel_test as jkt


class PeriscopeKernelTests(jkt.KernelTests):
    kernel_name = "periscope"
    language_name = "periscope"
    file_extension = ".scope"

    code_hello_world = 'print "hello, world"'
    code_generate_error = "frobnicate 3"
    code_page_something = "?help"
    code_inspect_sample = "help"

    code_execute_result = [
        {"code": "42", "result": "42"},
        {"code": "x = 7\nx", "result": "7"},
        {"code": "0..3"},
    ]
    code_display_data = [
        {"code": "show 42", "mime": "text/plain"},
    ]
    code_history_pattern = "x = *"
    supported_history_operations = ("tail", "range", "search")

    completion_samples = [
        {"text": "hel", "matches": {"help"}},
        {"text": "sho", "matches": {"show"}},
        {"text": "zzzz", "matches": set()},
    ]
    complete_code_samples = ['print "hi"', "x = [1, 2]", "help", ""]
    incomplete_code_samples = ["x = [1,", 'print "unterminated', "print 1 \\"]
    invalid_code_samples = ["x = ]", "print 1]"]


class PeriscopeIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = "periscope"
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
