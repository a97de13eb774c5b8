#!/usr/bin/env python3
"""Run the recipes of README.md, docs/scale-out.md and docs/ci.md as written,
with local stand-ins for the schedulers they target.

    python3 .ci/recipes.py target/release/surge

- README.md: every command of its `sh` blocks and every `$ cargo run` line
  (with `cargo run --release --` meaning the built binary), each must exit 0.
- docs/scale-out.md: the shard loop; the Slurm scripts, submitted by the
  recipe's own submit.sh to a stand-in `sbatch` that runs each array index in
  turn and honours `--dependency=afterok`; the Kubernetes Jobs, each index's
  container command run with JOB_COMPLETION_INDEX (paths /scenarios and
  /results mapped to local folders); the GitHub Actions matrix, each shard's
  `run` steps then the merge job's, artifacts copied between them. Each
  merged folder must be byte-identical to an unsharded sweep. YAML must parse
  and carry the keys its runner requires; the Dockerfile must build the
  binary the Job runs (checked by reading it: no Docker engine here).
- docs/ci.md: the workflow's YAML and keys; its two `run` steps executed in
  a clone whose origin has the base branch (the baseline built from it); the
  shell script, which must exit 0 on mmc.toml.

Blocks that are files carry `# file: NAME` in their first lines. Needs PyYAML.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SMALL = {
    "SCENARIO": "scenarios/mmc.toml",
    "GRID": "pool.gpu.gpus=8,9,10,12",
    "REPLICATIONS": "4",
}
COMPARED = ("sweep.csv", "summary.csv", "pools.csv")


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def blocks(doc):
    """(language, text) of each fenced block of a Markdown file."""
    text = (ROOT / doc).read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]


def file_blocks(doc):
    """{file name: text} of the blocks that carry `# file: NAME`."""
    out = {}
    for _, text in blocks(doc):
        m = re.search(r"^# file: (\S+)$", "\n".join(text.splitlines()[:3]), re.M)
        if m:
            out[m.group(1)] = text
    return out


def sh(cmd, cwd, env=None, ok=(0,), what=None):
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode not in ok:
        fail(f"{what or cmd!r} exited {r.returncode} in {cwd}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def same_outputs(got, want, what):
    for name in COMPARED:
        a, b = Path(got) / name, Path(want) / name
        if not a.is_file():
            fail(f"{what}: {a} is missing")
        if a.read_bytes() != b.read_bytes():
            fail(f"{what}: {a} differs from the unsharded sweep's {b}")
    print(f"ok: {what}: merged outputs byte-identical to the unsharded sweep")


class Sandbox:
    """A folder with the scenarios, and a PATH whose `surge` is the binary."""

    def __init__(self, surge, tmp):
        self.tmp = Path(tmp)
        self.bin = self.tmp / "bin"
        self.bin.mkdir()
        (self.bin / "surge").symlink_to(surge)
        self.env = dict(os.environ, PATH=f"{self.bin}:{os.environ['PATH']}")

    def workdir(self, name):
        d = self.tmp / name
        d.mkdir(parents=True)
        shutil.copytree(ROOT / "scenarios", d / "scenarios")
        return d

    def reference(self, name, scenario, grid, replications):
        d = self.workdir(name)
        sh(f"surge sweep {scenario} --grid {grid} --replications {replications} --out ref --quiet",
           d, self.env)
        return d / "ref"


def readme(box):
    commands = []
    for lang, text in blocks("README.md"):
        lines = text.replace("\\\n", " ").splitlines()
        if lang == "sh":
            commands += [l for l in lines if l.strip() and not l.lstrip().startswith("#")]
        elif lang == "":
            commands += [l[2:] for l in lines if l.startswith("$ ")]
    seen = set()
    work = box.workdir("readme")
    for cmd in commands:
        cmd = re.sub(r"^cargo run --release -- ", "surge ", cmd.strip())
        if cmd.startswith("cargo test") or cmd in seen:
            continue  # .ci/run runs the tests itself
        seen.add(cmd)
        if not cmd.startswith("surge "):
            fail(f"README.md: a command block runs {cmd!r}; teach this stand-in about it")
        sh(cmd, work, box.env, what=f"README.md: {cmd}")
    print(f"ok: README.md: {len(seen)} commands exit 0")
    # Its TOML: a whole scenario validates; a fragment (a [sweep] table)
    # validates added to launch-day.toml, whose paths it names.
    tomls = [text for lang, text in blocks("README.md") if lang == "toml"]
    # The data files launch-day.toml names, beside the copies.
    shutil.copytree(ROOT / "scenarios/data", work / "data", dirs_exist_ok=True)
    for i, text in enumerate(tomls):
        if "[[class]]" not in text:
            text = (ROOT / "scenarios/launch-day.toml").read_text() + "\n" + text
        path = work / f"readme-{i}.toml"
        path.write_text(text)
        sh(f"surge validate {path.name}", work, box.env, what=f"README.md: TOML block {i + 1}")
    print(f"ok: README.md: {len(tomls)} TOML blocks validate")


def slurm(box, files):
    work = box.workdir("slurm")
    for name in ("sweep.sbatch", "merge.sbatch", "submit.sh"):
        (work / name).write_text(files[name])
    # The stand-in sbatch: runs an array index by index, records job states.
    (box.bin / "sbatch").write_text(r'''#!/usr/bin/env python3
import os, re, subprocess, sys
from pathlib import Path
state = Path(os.environ["SBATCH_STATE"])
state.mkdir(exist_ok=True)
args, parsable, dependency = sys.argv[1:], False, None
script = args[-1]
for a in args[:-1]:
    if a == "--parsable": parsable = True
    elif a.startswith("--dependency="): dependency = a.split("=", 1)[1]
    else: sys.exit(f"sbatch stand-in: unknown option {a}")
if dependency:
    kind, job = dependency.split(":", 1)
    if kind != "afterok" or (state / job).read_text() != "ok":
        sys.exit(f"sbatch stand-in: dependency {dependency} not met")
text = Path(script).read_text()
opts = dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", text, re.M))
job = str(len(list(state.iterdir())) + 1000)
indices = [None]
if "array" in opts:
    lo, hi = map(int, opts["array"].split("-"))
    indices = list(range(lo, hi + 1))
ok = True
for i in indices:
    env = dict(os.environ, SLURM_JOB_ID=job, SLURM_CPUS_PER_TASK=opts.get("cpus-per-task", "1"))
    if i is not None:
        env.update(SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_TASK_COUNT=str(len(indices)))
    r = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(f"task {i} of {script} failed:\n{r.stderr}")
        ok = False
(state / job).write_text("ok" if ok else "failed")
print(job if parsable else f"Submitted batch job {job}")
sys.exit(0 if ok else 1)
''')
    (box.bin / "sbatch").chmod(0o755)
    env = dict(box.env, SBATCH_STATE=str(work / ".sbatch"), **SMALL)
    sh("bash submit.sh", work, env, what="docs/scale-out.md: submit.sh")
    lines = re.search(r"--array=1-(\d+)", files["sweep.sbatch"]).group(1)
    ref = box.reference("slurm-ref", SMALL["SCENARIO"], SMALL["GRID"], SMALL["REPLICATIONS"])
    same_outputs(work / "output/sweep", ref, f"Slurm array of {lines} shards + afterok merge")


def kubernetes(box, files):
    sweep = yaml.safe_load(files["sweep-job.yaml"])
    merge = yaml.safe_load(files["merge-job.yaml"])
    image = None
    for doc, name in ((sweep, "sweep-job.yaml"), (merge, "merge-job.yaml")):
        for key in ("apiVersion", "kind", "metadata", "spec"):
            if key not in doc:
                fail(f"{name}: no {key}")
        if doc["apiVersion"] != "batch/v1" or doc["kind"] != "Job":
            fail(f"{name}: expected a batch/v1 Job")
        pod = doc["spec"]["template"]["spec"]
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            fail(f"{name}: a Job's pods need restartPolicy Never or OnFailure")
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            if not c.get("image"):
                fail(f"{name}: container {c.get('name')} has no image")
            image = image or c["image"]
            if c["image"] != image:
                fail(f"{name}: the two Jobs run different images")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    fail(f"{name}: volumeMount {m['name']} has no volume")
    spec = sweep["spec"]
    if spec.get("completionMode") != "Indexed":
        fail("sweep-job.yaml: an indexed Job needs completionMode: Indexed")
    build = [t for lang, t in blocks("docs/scale-out.md") if lang == "sh" and "docker build" in t]
    if not build or f"-t {image} " not in build[0]:
        fail(f"docs/scale-out.md: the docker build does not tag the Jobs' image {image}")
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+", dockerfile, re.M)
    if len(stages) < 2 or "cargo build --release --locked" not in dockerfile:
        fail("Dockerfile: expected a multi-stage build of the release binary")
    if not re.search(r"^COPY --from=\w+ /src/target/release/surge /usr/local/bin/surge$", dockerfile, re.M):
        fail("Dockerfile: the binary is not copied onto the PATH")
    if not re.search(r"^COPY scenarios /scenarios$", dockerfile, re.M):
        fail("Dockerfile: the scenarios the Job names are not in /scenarios")

    work = box.workdir("k8s")
    results = work / "results"
    results.mkdir()

    def run(container, index):
        env = dict(box.env)
        for e in container.get("env", []):
            env[e["name"]] = SMALL.get(e["name"], e["value"])
        env["SCENARIO"] = env.get("SCENARIO", "").replace("scenarios/", "/scenarios/", 1)
        env = {k: v.replace("/scenarios/", f"{work}/scenarios/") for k, v in env.items()}
        if index is not None:
            env["JOB_COMPLETION_INDEX"] = str(index)
        command = container["command"] + container["args"]
        if command[:2] != ["sh", "-c"]:
            fail("the stand-in runs `sh -c` containers only")
        script = command[2].replace("/results", str(results))
        sh(script, work, env, what=f"Job container (index {index})")

    container = spec["template"]["spec"]["containers"][0]
    shards = int(spec["completions"])
    if f"/{shards}\"" not in container["args"][0]:
        fail(f"sweep-job.yaml: --shard must count {shards} shards, as completions does")
    for i in range(shards):
        run(container, i)
    run(merge["spec"]["template"]["spec"]["containers"][0], None)
    ref = box.reference("k8s-ref", SMALL["SCENARIO"], SMALL["GRID"], SMALL["REPLICATIONS"])
    same_outputs(results / "merged", ref, f"Kubernetes indexed Job of {shards} pods + merge Job")


def workflow_checks(flow, name):
    # YAML 1.1 reads the key `on` as true.
    if "on" not in flow and True not in flow:
        fail(f"{name}: no `on:` trigger")
    for job, spec in flow.get("jobs", {}).items():
        if "runs-on" not in spec or not spec.get("steps"):
            fail(f"{name}: job {job} needs runs-on and steps")
        for step in spec["steps"]:
            if ("uses" in step) == ("run" in step):
                fail(f"{name}: job {job}: each step has exactly one of uses and run: {step}")


def actions_matrix(box, files):
    flow = yaml.safe_load(files["sweep.yml"])
    workflow_checks(flow, "sweep.yml")
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    if merge_job.get("needs") != "shard":
        fail("sweep.yml: the merge job must need the shard job")
    env = dict(box.env, **{k: SMALL.get(k, str(v)) for k, v in flow.get("env", {}).items()})
    work = box.workdir("actions")
    artifacts = work / "artifacts"

    def steps(job, subst, cwd):
        for step in job["steps"]:
            uses, run = step.get("uses", ""), step.get("run")
            if run is not None:
                for k, v in subst.items():
                    run = run.replace(k, v)
                if run.startswith("cargo install"):
                    continue  # the stand-in's PATH has the binary already
                sh(run, cwd, env, what=f"sweep.yml: {run}")
            elif uses.startswith("actions/upload-artifact"):
                w = {k: v for k, v in step["with"].items()}
                for k, v in subst.items():
                    w = {a: b.replace(k, v) for a, b in w.items()}
                shutil.copytree(cwd / w["path"], artifacts / w["name"])
            elif uses.startswith("actions/download-artifact"):
                for a in artifacts.iterdir():
                    shutil.copytree(a, cwd / a.name)

    shards = shard_job["strategy"]["matrix"]["shard"]
    for k in shards:
        d = work / f"runner-{k}"
        shutil.copytree(work / "scenarios", d / "scenarios")
        steps(shard_job, {"${{ matrix.shard }}": str(k)}, d)
    d = work / "runner-merge"
    shutil.copytree(work / "scenarios", d / "scenarios")
    artifacts_before = {a.name for a in artifacts.iterdir()}
    steps(merge_job, {}, d)
    if artifacts_before != {f"shard-{k}" for k in shards}:
        fail(f"sweep.yml: shard artifacts are {sorted(artifacts_before)}")
    ref = box.reference("actions-ref", SMALL["SCENARIO"], SMALL["GRID"], SMALL["REPLICATIONS"])
    same_outputs(artifacts / "sweep", ref, f"GitHub Actions matrix of {len(shards)} shards + merge job")


def shard_loop(box):
    loops = [t for lang, t in blocks("docs/scale-out.md") if lang == "sh" and "for k in" in t]
    work = box.workdir("loop")
    sh(loops[0], work, box.env, what="docs/scale-out.md: the shard loop")
    ref = box.reference("loop-ref", "scenarios/mmc.toml", "pool.gpu.gpus=8,9,10,12", 20)
    same_outputs(work / "output/mmc", ref, "the shard loop + merge")


def ci_doc(box):
    files = file_blocks("docs/ci.md")
    flow = yaml.safe_load(files["slo.yml"])
    workflow_checks(flow, "slo.yml")
    triggers = flow.get("on", flow.get(True))
    if triggers != "pull_request" and "pull_request" not in (triggers or {}):
        fail("slo.yml: expected to run on pull_request")
    steps = flow["jobs"]["surge-check"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    checkout = steps[uses.index("actions/checkout@v4")]
    if checkout.get("with", {}).get("fetch-depth") != 0:
        fail("slo.yml: checkout needs fetch-depth: 0 for the base branch")
    if not any(u.startswith("Swatinem/rust-cache") for u in uses):
        fail("slo.yml: no cargo cache")
    if not any(u.startswith("mikepenz/action-junit-report") for u in uses):
        fail("slo.yml: the JUnit report is not shown in the pull request")
    if flow.get("permissions", {}).get("checks") != "write":
        fail("slo.yml: the JUnit check run needs permissions: checks: write")
    runs = [s["run"] for s in steps if "run" in s]

    # A clone of this repository: its origin has the base branch.
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "main"
    work = box.tmp / "ci" / "work"
    work.parent.mkdir()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(work)], check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
    env = dict(box.env, GITHUB_BASE_REF=branch, CARGO_TARGET_DIR=str(target))
    # Both checkouts build into the shared target folder (dependencies
    # once); each checkout's `target` points there.
    (work / "target").symlink_to(target)
    first = runs[0].replace("cargo build --release --locked --manifest-path ../base/Cargo.toml",
                            "ln -s \"$CARGO_TARGET_DIR\" ../base/target && "
                            "cargo build --release --locked --manifest-path ../base/Cargo.toml")
    sh("set -e\n" + first, work, env, what="slo.yml: baseline step")
    r = sh("set -e\n" + runs[1], work, env, what="slo.yml: check step")
    if not (work / "slo-report.xml").is_file():
        fail("slo.yml: no slo-report.xml for the JUnit reporter")
    print(f"ok: docs/ci.md: workflow keys, baseline from origin/{branch}, check exits 0: "
          f"{r.stdout.strip().splitlines()[-1]}")
    (work / "slo-check.sh").write_text(files["slo-check.sh"])
    r = sh("sh slo-check.sh", work, env, what="docs/ci.md: slo-check.sh")
    print(f"ok: docs/ci.md: slo-check.sh exits 0: {r.stdout.strip().splitlines()[-1]}")


def main():
    surge = Path(sys.argv[1]).resolve()
    only = sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        box = Sandbox(surge, tmp)
        scale = file_blocks("docs/scale-out.md")
        for name, check in [
            ("readme", lambda: readme(box)),
            ("loop", lambda: shard_loop(box)),
            ("slurm", lambda: slurm(box, scale)),
            ("kubernetes", lambda: kubernetes(box, scale)),
            ("actions", lambda: actions_matrix(box, scale)),
            ("ci", lambda: ci_doc(box)),
        ]:
            if not only or name in only:
                check()


if __name__ == "__main__":
    main()
