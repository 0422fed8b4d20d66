# Kiln's stdout callback for ansible-playbook: one JSON object per line, prefixed with KILN-EVENT, for the events
# Kiln shows (plays, tasks, handlers, per-host results, the recap) and parses (the failing task and its message).
# Written by Kiln into a temporary directory for one run; uses only the callback API v2 of ansible-core.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
    name: kiln_events
    type: stdout
    short_description: JSON lines for Kiln
    description: One JSON object per event, for Kiln to parse.
'''

import json
import sys

from ansible.plugins.callback import CallbackBase

PREFIX = 'KILN-EVENT '
TEXT_LIMIT = 4000


def _text(value):
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            value = json.dumps(value, sort_keys=True, default=str)
        except Exception:
            value = str(value)
    return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + '...'


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'kiln_events'

    def _emit(self, event, **fields):
        fields['event'] = event
        sys.stdout.write(PREFIX + json.dumps(fields, sort_keys=True, default=str) + '\n')
        sys.stdout.flush()

    def _result(self, status, result, item=False):
        r = result._result
        self._handle_warnings(r)
        fields = {
            'host': result._host.get_name(),
            'task': result._task.get_name(),
            'action': result._task.action,
        }
        if item:
            fields['item'] = _text(self._get_item_label(r))
        for key in ('msg', 'stderr', 'stdout', 'rc', 'exception'):
            if key in r and r[key] not in (None, ''):
                fields[key] = _text(r[key]) if key != 'rc' else r[key]
        if status == 'failed' and isinstance(r.get('results'), list):
            # a loop's own message is only "One or more items failed": the first failing item says why
            for sub in r['results']:
                if isinstance(sub, dict) and sub.get('failed') and sub.get('msg'):
                    fields['msg'] = _text(sub['msg'])
                    break
        if status == 'failed':
            fields['ignored'] = bool(result._task.ignore_errors)
        self._emit(status, **fields)

    def v2_playbook_on_play_start(self, play):
        self._emit('play', name=play.get_name().strip())

    def v2_playbook_on_no_hosts_matched(self):
        self._emit('no_hosts')

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit('task', name=task.get_name().strip(), action=task.action)

    def v2_playbook_on_handler_task_start(self, task):
        self._emit('handler', name=task.get_name().strip(), action=task.action)

    def v2_runner_on_ok(self, result):
        self._result('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_item_on_ok(self, result):
        self._result('changed' if result._result.get('changed') else 'ok', result, item=True)

    def v2_runner_item_on_failed(self, result):
        self._result('failed', result, item=True)

    def v2_runner_item_on_skipped(self, result):
        self._result('skipped', result, item=True)

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = {k: s.get(k, 0) for k in ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored')}
        self._emit('stats', hosts=hosts)
