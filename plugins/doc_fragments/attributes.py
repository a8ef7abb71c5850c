# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Attributes shared by the collection's modules."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    CONTROLLER = r"""
options: {}
attributes:
  platform:
    description: Runs on the Ansible controller (or the host it is delegated to), never on the Windows hosts.
    support: full
    platforms: posix
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads the store and changes nothing, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - This module reports; it has nothing to show as a difference.
"""

    # Readers of host state ingest the spool first, so they are not pure reads.
    STATE_READER = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module changes no catalog or host data, so it runs the same in check mode. Before it reads, it
        moves state messages waiting in the spool into the store (quarantining unreadable ones and pruning
        history past its retention), as every reader of host state does; check mode does that too,
        because it only records what hosts already reported.
  diff_mode:
    support: N/A
    details:
      - This module reports; it has nothing to show as a difference.
"""
