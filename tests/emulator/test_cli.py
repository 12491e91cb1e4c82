import re
import subprocess
import sys

from tests.emulator.conftest import CONTOSO, ROOT, call


def test_emulator_serve_prints_its_url_and_answers_organization():
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--tenant", str(CONTOSO.relative_to(ROOT))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/v1\.0", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        answer = call(match.group(0) + "/organization")
        assert answer.status == 200
        assert answer.body["value"][0]["displayName"] == "Contoso"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_emulator_serve_refuses_a_bad_fault_spec(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "serve",
            "--tenant",
            str(CONTOSO),
            "--faults",
            "teapot:every=2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "teapot" in done.stderr


def test_emulator_serve_rule_reads_keeps_a_new_dynamic_group_unevaluated_for_that_many_reads():
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--tenant", str(CONTOSO.relative_to(ROOT)), "--rule-reads", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/v1\.0", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        rule = 'user.department -eq "Sales"'
        created = call(
            match.group(0) + "/groups",
            "POST",
            {
                "displayName": "probe",
                "mailEnabled": False,
                "mailNickname": "probe",
                "securityEnabled": True,
                "groupTypes": ["DynamicMembership"],
                "membershipRule": rule,
                "membershipRuleProcessingState": "On",
            },
        )
        assert created.status == 201, created.body
        beta = match.group(0).replace("/v1.0", "/beta")
        url = f"{beta}/groups/{created.body['id']}?$select=id,membershipRuleProcessingStatus"
        seen = [call(url).body["membershipRuleProcessingStatus"]["status"] for _ in range(3)]
        assert seen == ["NotStarted", "Running", "Succeeded"]
    finally:
        process.terminate()
        process.wait(timeout=10)
