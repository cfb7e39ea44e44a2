"""The HTML run report's template: one page, inline CSS, no script, nothing fetched.

Rendered by ``runbook.report`` in a sandboxed, autoescaping Jinja2 environment;
every value comes from the audit log or the journal, already redacted.
"""

from __future__ import annotations

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;
background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#d5d9e0;padding-bottom:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e1e4ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#0f1420;color:#e6e9ef;padding:8px;overflow:auto;white-space:pre-wrap;
margin:4px 0;max-height:240px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff;
background:#6b7280}
.ok,.succeeded,.approved,.done{background:#15803d}.failed,.declined,.critical,.error{background:#b91c1c}
.rolled-back,.warn,.warning,.needs-attention,.interrupted{background:#b45309}
.planned,.skipped,.info{background:#64748b}
.facts td:first-child{width:180px;color:#4b5563}
.lane{position:relative;height:20px;background:#fff;border:1px solid #e1e4ea;margin:2px 0}
.lane .bar{position:absolute;top:2px;bottom:2px;border-radius:3px;min-width:3px}
.lanes{display:grid;grid-template-columns:220px 1fr 80px;gap:0 8px;align-items:center}
.lanes .label{font-family:ui-monospace,monospace;font-size:12px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}.muted{color:#6b7280}
footer{margin-top:32px;font-size:12px;color:#4b5563}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>runbook report: {{ run.playbook }} {{ run.run_id }}</title>
<style>""" + CSS + """</style></head>
<body><main>
<h1>{{ run.playbook }} <span id="outcome" class="badge {{ fin.status or 'running' }}">
{{ fin.status or run.status or 'unfinished' }}</span></h1>
<div class="muted">run <code id="run-id">{{ run.run_id }}</code>
{% if fin.rc is not none %} · exit {{ fin.rc }}{% endif %}
{% if fin.duration_ms is not none %} · {{ fin.duration_ms | took }}{% endif %}</div>

<h2>Run</h2>
<table class="facts" id="facts">
<tr><td>actor</td><td id="actor">{{ run.actor }}</td></tr>
{% if run.reason %}<tr><td>reason</td><td>{{ run.reason }}</td></tr>{% endif %}
<tr><td>started</td><td>{{ d.events[0].ts if d.events else run.started }}</td></tr>
{% if fin.ts %}<tr><td>finished</td><td>{{ fin.ts }}</td></tr>{% endif %}
<tr><td>playbook</td><td><code>{{ run.playbook_path }}</code>
 <span class="muted">sha256 {{ run.playbook_sha256 }}</span></td></tr>
{% if run.host %}<tr><td>runner</td><td>{{ run.host }}</td></tr>{% endif %}
{% if d.events and d.events[0].data and d.events[0].data.sandbox %}
<tr><td>sandbox</td><td>{{ d.events[0].data.sandbox }} (simulated estate)</td></tr>{% endif %}
{% if fin.message %}<tr><td>error</td><td>{{ fin.message }}</td></tr>{% endif %}
{% if run.params or run.secret_params %}<tr><td>params</td><td>{% for k, v in run.params.items() %}
<code>{{ k }}={{ v }}</code> {% endfor %}
{% if run.secret_params %}<span class="muted">(secret, not stored:
{{ run.secret_params | join(', ') }})</span>{% endif %}</td></tr>{% endif %}
</table>

<h2>Timeline</h2>
<div class="lanes" id="timeline">
{% for b in d.bars %}<div class="label" title="{{ b.label }}">{{ b.label }}</div>
<div class="lane"><div class="bar {{ b.status }}"
 style="left:{{ b.left }}%;width:{{ b.width }}%"></div></div>
<div class="muted">{{ b.took }}</div>
{% else %}<div class="muted">no step ran</div>{% endfor %}
</div>

<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>host</th><th>status</th><th>rc</th><th>attempts</th>
<th>took</th><th>error / output</th></tr>
{% for s in d.steps %}<tr><td><code>{{ s.step }}</code></td><td>{{ s.host }}</td>
<td><span class="badge {{ s.state }}">{{ s.state }}</span></td>
<td>{{ '' if s.rc is none else s.rc }}</td><td>{{ s.attempts }}</td>
<td>{{ s.duration_ms | took }}</td><td>{% if s.error %}{{ s.error }}{% endif %}
{% if s.output %}<pre>{{ s.output }}</pre>{% endif %}</td></tr>
{% else %}{% for e in d.of('step.finished') %}<tr><td><code>{{ e.step }}</code></td>
<td>{{ e.host or '' }}</td><td><span class="badge {{ e.status }}">{{ e.status }}</span></td>
<td>{{ '' if e.rc is none else e.rc }}</td><td></td><td>{{ e.duration_ms | took }}</td>
<td>{{ e.message or '' }}</td></tr>{% endfor %}{% endfor %}
</table>

<h2>Commands</h2>
<table id="commands"><tr><th>time</th><th>step</th><th>target</th><th>command</th></tr>
{% for e in d.of('step.started') %}<tr><td>{{ e.ts }}</td><td><code>{{ e.step }}</code></td>
<td>{{ e.target or '' }}{% if e.host %} @ {{ e.host }}{% endif %}</td>
<td>{% if e.argv %}<code>{{ e.argv | join(' ') }}</code>{% endif %}
{% if e.data and e.data.mutating %} <span class="badge warn">mutates</span>{% endif %}
</td></tr>{% endfor %}
</table>

<h2>Checks</h2>
<table id="checks"><tr><th>kind</th><th>check</th><th>status</th><th>expected</th>
<th>observed</th><th>message</th></tr>
{% for e in d.of('check.finished') %}<tr><td>{{ e.data.kind if e.data else '' }}</td>
<td><code>{{ e.step }}</code></td><td><span class="badge {{ e.status }}">{{ e.status }}</span></td>
<td>{% if e.data %}{% for x in e.data.expected or [] %}<code>{{ x }}</code><br>{% endfor %}
{% endif %}</td>
<td>{% if e.data and e.data.observed %}{% for k, v in e.data.observed.items() %}
<code>{{ k }} = {{ v | short }}</code><br>{% endfor %}{% endif %}</td>
<td>{{ e.message or '' }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">no checks</td></tr>{% endfor %}
</table>

<h2>Findings</h2>
<table id="findings"><tr><th>severity</th><th>finding</th><th>next step</th><th>evidence</th></tr>
{% for f in (fin.data or {}).get('findings', []) %}<tr>
<td><span class="badge {{ f.severity }}">{{ f.severity }}</span></td><td>{{ f.title }}</td>
<td>{{ f.next_step or '' }}</td><td><code>{{ f.evidence | short(400) }}</code></td></tr>
{% else %}<tr><td colspan="4" class="muted">no findings</td></tr>{% endfor %}
</table>

<h2>Gates</h2>
<table id="gates"><tr><th>time</th><th>step</th><th>answer</th><th>answered by</th><th>how</th>
<th>question</th></tr>
{% for e in d.of('gate.answered') %}<tr><td>{{ e.ts }}</td><td><code>{{ e.step }}</code></td>
<td><span class="badge {{ e.status }}">{{ e.status }}</span></td>
<td class="who">{% if e.data and e.data.approver %}{{ e.data.approver }} (approved the plan),
run by {{ e.actor }}{% else %}{{ e.actor }}{% endif %}</td>
<td>{{ e.data.how if e.data else '' }}</td><td>{{ e.message or '' }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">no gates</td></tr>{% endfor %}
</table>

<h2>Rollbacks</h2>
<table id="rollbacks"><tr><th>time</th><th>step</th><th>status</th><th>command</th>
<th>message</th></tr>
{% for e in d.of('rollback.finished') %}<tr><td>{{ e.ts }}</td><td><code>{{ e.step }}</code></td>
<td><span class="badge {{ e.status }}">{{ e.status }}</span></td>
<td>{% if e.argv %}<code>{{ e.argv | join(' ') }}</code>{% endif %}</td>
<td>{{ e.message or '' }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">no rollbacks ran</td></tr>{% endfor %}
</table>
{% if fin.data and fin.data.manual %}<h2>Left to do by hand</h2>
{% for c in fin.data.manual %}<pre>$ {{ c }}</pre>{% endfor %}{% endif %}

<h2>Audit</h2>
<table class="facts" id="audit">
<tr><td>audit log</td><td><code>{{ d.audit_path }}</code></td></tr>
<tr><td>events of this run</td><td>{{ d.events | length }}</td></tr>
<tr><td>last event hash</td><td><code id="last-hash">{{ d.last_hash }}</code></td></tr>
<tr><td>chain when written</td><td id="chain">{{ d.chain_note }}</td></tr>
<tr><td>check it</td><td><code>runbook audit verify {{ d.audit_path }}</code>, then
<code>runbook audit show {{ run.run_id }}</code>: its last event's hash is the one above</td></tr>
</table>
<footer>written by runbook at {{ d.generated }} from the audit log and the journal;
values are as they were recorded (secrets redacted), output truncated.</footer>
</main></body></html>
"""
