"""The CSV's required_kbs column lists a host's Required updates in a stable, sorted order."""

import csv
import io

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_csv import render_csv


def one_host(required):
    return {"hosts": {"web01": {"status": "ok"}},
            "sets": {"all": {"updates": 5, "host_compliance": {"web01": "non_compliant"},
                             "host_counts": {"web01": {}},
                             "host_required": {"web01": required}}}}


def test_required_kbs_are_sorted_by_kb_number_then_update_id():
    required = [{"kb": "5046616", "update_id": "c"}, {"kb": None, "update_id": "b2"}, {"kb": "890830", "update_id": "a"},
                {"kb": "5046615", "update_id": "d"}, {"kb": None, "update_id": "a1"}]
    rows = list(csv.DictReader(io.StringIO(render_csv(one_host(required)))))
    assert rows[0]["required_kbs"] == "KB890830 KB5046615 KB5046616 a1 b2"


def test_the_order_does_not_depend_on_the_input_order():
    required = [{"kb": str(kb), "update_id": "u%d" % kb} for kb in (5000003, 4000001, 5000001, 5000002)]
    forward = render_csv(one_host(required))
    backward = render_csv(one_host(list(reversed(required))))
    assert forward == backward
    assert "KB4000001 KB5000001 KB5000002 KB5000003" in forward
