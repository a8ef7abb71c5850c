# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""A task's arguments checked the way a module's are, for action plugins that drive host modules."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError


def validate_task_arguments(module, spec, internal, task_args):
    """``(problem, args)``: ``task_args`` checked against ``spec`` with messages that name ``module``
    as users write it (ActionBase.validate_argument_spec names the action plugin's Python path).
    ``internal`` options are set by the action plugin for each round trip and refused in a task."""
    given = sorted(name for name in task_args if name in internal)
    if given:
        return ("%s: remove %s from the task: %s internal, set by the action plugin for each round trip to the host"
                % (module, " and ".join(given), "they are" if len(given) > 1 else "it is"), None)
    validation = ArgumentSpecValidator(spec).validate(dict(task_args))
    if validation.error_messages:
        message = to_text(validation.errors.msg)
        if isinstance(validation.errors[0], UnsupportedError):
            message = "Unsupported parameters for (%s) module: %s" % (module, message)
        return message, None
    return None, dict(task_args, **validation.validated_parameters)
