"""A small stand-in for a GitHub Actions runner, and for an Azure Pipelines agent: it runs the
`run:` scripts of the example workflows here, against a local tenant, with the environment a
real run gives them.

Steps that only install something or talk to a service (`uses:` actions, `pip install`, `gh`,
`az`) are not run: what they would do is the test's to arrange (a downloaded artifact is a file
it puts in place). Everything else runs with bash as the runner runs it, with GITHUB_ACTIONS,
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and the rest set, and `reconciler` on PATH from the
virtualenv the tests run in.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.ci.expressions import Evaluator, Strict, text

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "examples" / "ci" / "github"
AZURE_DEVOPS = ROOT / "examples" / "ci" / "azure-devops" / "azure-pipelines.yml"
ACTION = ROOT / "action.yml"
PRE_COMMIT_HOOKS = ROOT / ".pre-commit-hooks.yaml"
# the `reconciler` console script of the virtualenv running the tests
BIN = Path(sys.executable).parent

# a step that only installs or calls an outside service: not run here
_EXTERNAL = re.compile(r"\bpip install\b|(^|[\s;|&(])(gh|az|curl)\s", re.MULTILINE)
_RECONCILER = re.compile(r"(^|[\s;|&(])reconciler\s", re.MULTILINE)
# what the runner's environment or this test machine may carry over from a real pipeline
_PIPELINE_VARIABLES = re.compile(r"^(GITHUB_|RUNNER_|ACTIONS_|TF_BUILD$|SYSTEM_|BUILD_|AGENT_)")


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        return yaml.safe_load(file)


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The `on:` of a workflow (YAML 1.1 reads the bare key `on` as True)."""
    found = workflow.get("on", workflow.get(True))
    if isinstance(found, str):
        return {found: None}
    if isinstance(found, list):
        return dict.fromkeys(found)
    return dict(found or {})


def workflows() -> list[Path]:
    return sorted(GITHUB.glob("*.yml"))


def is_external(script: str) -> bool:
    return bool(_EXTERNAL.search(script))


def runs_reconciler(script: str) -> bool:
    return bool(_RECONCILER.search(script))


def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This machine's environment without any pipeline's variables, `reconciler` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not _PIPELINE_VARIABLES.match(k)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def read_outputs(path: Path) -> dict[str, str]:
    """A $GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    if not path.exists():
        return outputs
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            while index < len(lines) and lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            index += 1  # the delimiter
            outputs[name] = "\n".join(block)
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str  # success, failure, skipped
    ran: bool = False  # run here, as opposed to skipped or left to a service
    script: str = ""
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"step {self.name!r}: {self.outcome} (exit {self.code})\n"
            f"--- script\n{self.script}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


@dataclass
class JobResult:
    job: str
    result: str  # success, failure, skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def step(self, name_or_id: str) -> StepResult:
        for step in self.steps:
            if name_or_id in (step.id, step.name):
                return step
        raise KeyError(f"no step {name_or_id!r} in job {self.job}: {[s.name for s in self.steps]}")

    def ran(self) -> list[StepResult]:
        return [step for step in self.steps if step.ran]

    def report(self) -> str:
        return "\n\n".join(str(step) for step in self.steps if step.ran)


def step_name(step: Mapping[str, Any]) -> str:
    if "name" in step:
        return str(step["name"])
    if "uses" in step:
        return str(step["uses"])
    return str(step.get("run", "")).strip().splitlines()[0]


def job_steps(workflow: Mapping[str, Any]) -> Iterator[tuple[str, dict, dict]]:
    """(job id, job, step) for every step of every job."""
    for job_id, job in workflow.get("jobs", {}).items():
        for step in job.get("steps", []):
            yield job_id, job, step


class Runner:
    """Runs jobs of one workflow (or a composite action's steps) in `workspace`."""

    def __init__(
        self,
        workflow: Mapping[str, Any],
        workspace: Path,
        *,
        github: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ):
        self.workflow = workflow
        self.workspace = workspace
        self.github = Strict(github)
        self.vars = Strict(variables or {})
        self.inputs = dict(inputs or {})
        self.temp = workspace.parent / "runner-temp"
        self.temp.mkdir(exist_ok=True)
        self.counter = 0

    def contexts(
        self,
        env: Mapping[str, str],
        steps: Mapping[str, Any],
        needs: Mapping[str, Any],
        matrix: Mapping[str, Any],
    ) -> dict[str, Any]:
        return {
            "github": self.github,
            "vars": self.vars,
            "env": Strict(env),
            "inputs": self.inputs,
            "matrix": Strict(matrix),
            "needs": needs,
            "steps": steps,
            "runner": Strict({"temp": str(self.temp), "os": "Linux"}),
            "strategy": {"fail-fast": False, "job-index": 0, "job-total": 1},
        }

    def job(
        self,
        job_id: str,
        *,
        needs: Mapping[str, JobResult] | None = None,
        matrix: Mapping[str, Any] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> JobResult:
        job = self.workflow["jobs"][job_id]
        needed = {
            name: {"result": result.result, "outputs": result.outputs}
            for name, result in (needs or {}).items()
        }
        declared = job.get("needs", [])
        declared = [declared] if isinstance(declared, str) else declared
        assert sorted(needed) == sorted(declared), f"{job_id} needs {declared}, given {needed}"
        status = "success" if all(n["result"] == "success" for n in needed.values()) else "failure"
        matrix = dict(matrix or {})
        env = {k: text(v) for k, v in (self.workflow.get("env") or {}).items()}
        evaluator = Evaluator(self.contexts(env, {}, needed, matrix), status, self.workspace)
        if not evaluator.condition(job.get("if")):
            return JobResult(job_id, "skipped")
        for name, value in (job.get("env") or {}).items():
            env[name] = evaluator.substitute(text(value))
        defaults = {
            **((self.workflow.get("defaults") or {}).get("run") or {}),
            **((job.get("defaults") or {}).get("run") or {}),
        }
        result = self.steps(job["steps"], env, needed, matrix, defaults, extra_env)
        result.job = job_id
        final = Evaluator(
            self.contexts(env, self._steps_context(result), needed, matrix),
            workspace=self.workspace,
        )
        result.outputs = {
            name: final.substitute(text(value))
            for name, value in (job.get("outputs") or {}).items()
        }
        return result

    def steps(
        self,
        steps: list[Mapping[str, Any]],
        env: Mapping[str, str],
        needs: Mapping[str, Any],
        matrix: Mapping[str, Any],
        defaults: Mapping[str, Any],
        extra_env: Mapping[str, str] | None = None,
    ) -> JobResult:
        result = JobResult("", "success")
        status = "success"  # of the steps so far; the job's needs were for its own `if`
        added_env: dict[str, str] = {}
        for step in steps:
            contexts = self.contexts(
                {**env, **added_env}, self._steps_context(result), needs, matrix
            )
            evaluator = Evaluator(contexts, status, self.workspace)
            name = step_name(step)
            if not evaluator.condition(step.get("if")):
                result.steps.append(StepResult(name, step.get("id"), "skipped"))
                continue
            if "run" not in step or is_external(step["run"]):
                # an action or a service: the test arranges what it would have done
                result.steps.append(StepResult(name, step.get("id"), "success"))
                continue
            outcome = self._run(step, evaluator, {**env, **added_env}, defaults, extra_env)
            result.steps.append(outcome)
            summary = self.temp / f"summary-{self.counter}"
            if summary.exists():
                result.summary += summary.read_text(encoding="utf-8")
            added_env.update(read_outputs(self.temp / f"env-{self.counter}"))
            if outcome.outcome == "failure" and not step.get("continue-on-error"):
                status = "failure"
        result.result = status
        return result

    def _run(
        self,
        step: Mapping[str, Any],
        evaluator: Evaluator,
        env: Mapping[str, str],
        defaults: Mapping[str, Any],
        extra_env: Mapping[str, str] | None,
    ) -> StepResult:
        self.counter += 1
        step_env = dict(env)
        for name, value in (step.get("env") or {}).items():
            step_env[name] = evaluator.substitute(text(value))
        script = evaluator.substitute(step["run"])
        shell = step.get("shell", defaults.get("shell", "bash"))
        assert shell == "bash", f"only bash steps are run here, not {shell}"
        directory = step.get("working-directory", defaults.get("working-directory", "."))
        cwd = self.workspace / evaluator.substitute(text(directory))
        output = self.temp / f"output-{self.counter}"
        script_file = self.temp / f"step-{self.counter}.sh"
        script_file.write_text(script, encoding="utf-8")
        process_env = base_environment(
            {
                **step_env,
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_OUTPUT": str(output),
                "GITHUB_ENV": str(self.temp / f"env-{self.counter}"),
                "GITHUB_STEP_SUMMARY": str(self.temp / f"summary-{self.counter}"),
                "GITHUB_EVENT_NAME": text(self.github["event_name"]),
                "GITHUB_REPOSITORY": text(self.github["repository"]),
                "GITHUB_SHA": text(self.github["sha"]),
                "GITHUB_RUN_ID": text(self.github["run_id"]),
                "GITHUB_SERVER_URL": text(self.github["server_url"]),
                "RUNNER_TEMP": str(self.temp),
                **(extra_env or {}),
            }
        )
        # as the runner runs `shell: bash`
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=cwd,
            env=process_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return StepResult(
            step_name(step),
            step.get("id"),
            "success" if done.returncode == 0 else "failure",
            ran=True,
            script=script,
            code=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            outputs=read_outputs(output),
        )

    @staticmethod
    def _steps_context(result: JobResult) -> dict[str, Any]:
        return {
            step.id: {"outputs": step.outputs, "outcome": step.outcome, "conclusion": step.outcome}
            for step in result.steps
            if step.id
        }


def run_action(
    workspace: Path, inputs: Mapping[str, str], github: Mapping[str, Any]
) -> tuple[JobResult, dict[str, str]]:
    """The root composite action's steps with `inputs` (defaults filled in), and its outputs."""
    action = load(ACTION)
    given = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    given.update(inputs)
    runner = Runner({"jobs": {}}, workspace, github={**github, "action_path": str(ROOT)})
    runner.inputs = given
    result = runner.steps(action["runs"]["steps"], {}, {}, {}, {})
    evaluator = Evaluator(
        runner.contexts({}, Runner._steps_context(result), {}, {}), workspace=workspace
    )
    outputs = {
        name: evaluator.substitute(text(spec["value"])) for name, spec in action["outputs"].items()
    }
    return result, outputs


# Azure Pipelines


_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
_SET_VARIABLE = re.compile(r"##vso\[task\.setvariable variable=([^;\]]+)((?:;[^\]]*)?)\](.*)")


def pipeline_steps(pipeline: Mapping[str, Any]) -> Iterator[tuple[str, str, dict]]:
    """(stage, job, step) for every step, deployment jobs' included."""
    for stage in pipeline.get("stages", []):
        for job in stage.get("jobs", []):
            name = job.get("job") or job.get("deployment")
            steps = list(job.get("steps", []))
            for hook in (job.get("strategy") or {}).get("runOnce", {}).values():
                steps += hook.get("steps", [])
            for step in steps:
                yield stage["stage"], name, step


def pipeline_script(step: Mapping[str, Any]) -> str | None:
    """The bash a step runs: `script`/`bash`, or an AzureCLI@2 task's inline script."""
    if "script" in step:
        return step["script"]
    if "bash" in step:
        return step["bash"]
    if str(step.get("task", "")).startswith("AzureCLI@"):
        return step["inputs"]["inlineScript"]
    return None


@dataclass
class PipelineStep:
    code: int
    stdout: str
    stderr: str
    script: str
    variables: dict[str, str]

    def __str__(self) -> str:
        return (
            f"exit {self.code}\n{self.script}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def run_pipeline_script(
    script: str, workspace: Path, macros: Mapping[str, str], extra_env: Mapping[str, str]
) -> PipelineStep:
    """A pipeline script as an agent runs it: macros replaced (unknown ones left, as the agent
    leaves them), bash without -e (the script sets its own), TF_BUILD set."""
    body = _MACRO.sub(lambda m: macros.get(m.group(1), m.group(0)), script)
    script_file = workspace.parent / f"pipeline-{abs(hash(body))}.sh"
    script_file.write_text(body, encoding="utf-8")
    env = base_environment(
        {
            "TF_BUILD": "True",
            **{name.upper().replace(".", "_"): value for name, value in macros.items()},
            **extra_env,
        }
    )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", str(script_file)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    variables = {match.group(1): match.group(3) for match in _SET_VARIABLE.finditer(done.stdout)}
    return PipelineStep(done.returncode, done.stdout, done.stderr, body, variables)
