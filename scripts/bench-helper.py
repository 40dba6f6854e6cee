#!/usr/bin/env python3
"""Helpers for scripts/bench, run with the bench venv's Python (stdlib only).

    bench-helper.py ready URL
        wait until the moto server at URL answers a Secrets Manager call
    bench-helper.py create URL SPEC_JSON
        create the secrets listed in SPEC_JSON ([{"name": ..., "value": ...}, ...]),
        several requests at a time
    bench-helper.py proxy UPSTREAM PORT_FILE COUNTS_FILE
        an HTTP proxy on a free 127.0.0.1 port (written to PORT_FILE) that forwards
        every request to UPSTREAM and counts them by X-Amz-Target action; the counts
        are rewritten to COUNTS_FILE (JSON) after every request
    bench-helper.py delta BEFORE_JSON AFTER_JSON
        the calls made between two copies of COUNTS_FILE: "TOTAL Action=n,..."
    bench-helper.py median-rss FILE...
        median of the "Maximum resident set size (kbytes)" lines of /usr/bin/time -v outputs
    bench-helper.py interleave ROUNDS COMMANDS_TSV OUT_JSON
        time the commands of COMMANDS_TSV (label, prepare command, command; shell-quoted)
        round-robin, in a new random order each round, so that a change in the machine's
        load hits every command alike; medians to OUT_JSON
    bench-helper.py report HYPERFINE_JSON FACTS_FILE [INTERLEAVED_JSON]
        the Markdown results (table of medians and ratios, memory, API calls, goals)
"""

import concurrent.futures
import http.client
import http.server
import json
import os
import random
import shlex
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

# moto routes a request by the SigV4 credential scope of its Authorization header and
# checks no signature.
AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, "
        "SignedHeaders=host, Signature=0")


def call(url, action, body, timeout=30):
    req = urllib.request.Request(url.rstrip("/") + "/", data=json.dumps(body).encode(),
                                 method="POST", headers={
                                     "X-Amz-Target": f"secretsmanager.{action}",
                                     "Content-Type": "application/x-amz-json-1.1",
                                     "Authorization": AUTH,
                                 })
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def ready(url):
    deadline = time.monotonic() + 30
    while True:
        try:
            call(url, "ListSecrets", {}, timeout=5)["SecretList"]
            return
        except Exception as err:  # noqa: BLE001 - any failure means "not yet"
            if time.monotonic() > deadline:
                sys.exit(f"moto at {url} does not answer: {err}")
            time.sleep(0.1)


def create(url, spec_file):
    with open(spec_file) as f:
        secrets = json.load(f)

    def one(secret):
        call(url, "CreateSecret", {"Name": secret["name"], "SecretString": secret["value"]})

    # The first request alone: moto sets up its backend on first use, and requests
    # racing that fail with a 500. After it, its threaded server takes several at once.
    one(secrets[0])
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(one, secrets[1:]):
            pass
    print(f"created {len(secrets)} secrets")


def proxy(upstream, port_file, counts_file):
    target = urllib.parse.urlsplit(upstream)
    counts = {}
    lock = threading.Lock()
    hop_by_hop = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
                  "trailer", "upgrade"}

    def record(action):
        with lock:
            counts[action] = counts.get(action, 0) + 1
            tmp = counts_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(counts, f)
            os.replace(tmp, counts_file)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            target_header = self.headers.get("X-Amz-Target", "")
            record(target_header.rsplit(".", 1)[-1] if target_header else f"{self.command} {self.path}")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in hop_by_hop and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = forward

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(counts_file, "w") as f:
        json.dump(counts, f)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


def delta(before_file, after_file):
    with open(before_file) as f:
        before = json.load(f)
    with open(after_file) as f:
        after = json.load(f)
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after)}
    diff = {k: v for k, v in diff.items() if v}
    detail = ",".join(f"{k}={v}" for k, v in diff.items()) or "none"
    print(f"{sum(diff.values())} {detail}")


def median_rss(files):
    values = []
    for name in files:
        with open(name) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    values.append(int(line.rsplit(":", 1)[1]))
    if not values:
        sys.exit("no 'Maximum resident set size' line found")
    print(int(statistics.median(values)))


def interleave(rounds, tsv, out_json):
    commands = []
    with open(tsv) as f:
        for line in f:
            label, prepare, command = line.rstrip("\n").split("\t")
            commands.append((label, shlex.split(prepare) if prepare else None, shlex.split(command)))
    devnull = os.open(os.devnull, os.O_RDWR)
    quiet = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
             (os.POSIX_SPAWN_DUP2, devnull, 2)]

    def spawn(argv):
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=quiet)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"interleave: {shlex.join(argv)} failed")
        return elapsed

    times = {label: [] for label, _, _ in commands}
    for label, prepare, argv in commands:  # one warm-up run each
        if prepare:
            spawn(prepare)
        spawn(argv)
    for _ in range(int(rounds)):
        order = list(commands)
        random.shuffle(order)
        for label, prepare, argv in order:
            if prepare:
                spawn(prepare)
            times[label].append(spawn(argv))
    with open(out_json, "w") as f:
        json.dump({label: {"median": statistics.median(t), "times": t}
                   for label, t in times.items()}, f)


def read_facts(path):
    facts = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                facts[key] = value
    return facts


def report(hyperfine_json, facts_file, interleaved_json=None):
    facts = read_facts(facts_file)
    with open(hyperfine_json) as f:
        results = json.load(f)["results"]
    inter = {}
    if interleaved_json:
        with open(interleaved_json) as f:
            inter = {k: v["median"] * 1000 for k, v in json.load(f).items()}
    labels = facts["labels"].split(",")
    titles = dict(item.split(":", 1) for item in facts["titles"].split("|"))
    if len(labels) != len(results):
        sys.exit(f"{len(labels)} labels for {len(results)} hyperfine results")
    by = {label: r for label, r in zip(labels, results)}
    ms = lambda label: by[label]["median"] * 1000  # noqa: E731
    rss = lambda label: int(facts[f"rss_{label}"]) if f"rss_{label}" in facts else None  # noqa: E731
    sled, cli = ms("sled_default"), ms("aws_cli")

    out = []
    w = out.append
    w("# smcache benchmark results")
    w("")
    w(f"{facts.get('when', '')}, on {facts.get('machine', '')}; smcache at `{facts.get('revision', '')}`.")
    w(f"hyperfine {facts.get('hyperfine', '')}, {facts.get('warmup')} warm-up runs and "
      f"{facts.get('runs')} timed runs per command, all "
      "commands side by side in one run; moto "
      f"{facts.get('moto', '')} on loopback; {facts.get('awscli', '')}. Load average before the "
      f"run: {facts.get('loadavg', '')}.")
    w("")
    w("| command | median ms | mean ± σ ms | min ms | ÷ bare sled | AWS CLI ÷ this "
      "| interleaved median ms | max RSS MiB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        r = by[label]
        m = r["median"] * 1000
        mem = rss(label)
        mem_text = f"{mem / 1024:.1f}" if mem is not None else ""
        inter_text = f"{inter[label]:.1f}" if label in inter else ""
        w(f"| {titles[label]} | {m:.1f} | {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f} "
          f"| {r['min'] * 1000:.1f} | {m / sled:.2f}x | {cli / m:.0f}x | {inter_text} | {mem_text} |")
    w("")
    w(f"Max RSS: median of {facts.get('rss_runs', '?')} runs under `/usr/bin/time -v`.")
    w("(a), (e) and (f) are hits answered from their hit files, without opening sled; (g) and "
      "(g') run through `env -u SMCACHE_KEY`, one more exec (compare `cat`).")
    if inter:
        w(f"Interleaved: every command but the AWS CLI again, {facts.get('rounds', '?')} rounds, "
          "each round running all of them once in a new random order (hyperfine runs each "
          "command's runs back to back, so a change in load between them skews its ratios; "
          "and sled's open is bimodal on 2 cores: its thread pool's start-up spins). "
          "Ratios to the AWS CLI use its hyperfine median.")
    w("")
    w("API calls (counted by a proxy in front of moto, by `X-Amz-Target`):")
    w("")
    w(f"- cold `env` of 20 secrets (empty cache): **{facts['calls_cold_env']}**")
    w(f"- cold `get` of one secret (empty cache): {facts['calls_cold_get']}")
    w(f"- `env` of the same 20 secrets again (warm): {facts['calls_warm_env']}")
    w(f"- every cached command of the timed run together: {facts['calls_during_bench']}")
    w("")
    crates = int(facts.get("build_crate_crates") or 0)
    if facts.get("build_kind") == "incremental":
        how = "an incremental `cargo build --release --bin smcache` (--no-clean)"
    else:
        how = "`cargo clean --release -p smcache`, then `cargo build --release --bin smcache`"
    # On a machine whose release dependencies were not built yet, the timed build
    # compiled them too: say so instead of calling it the crate alone.
    what = ("for the smcache crate alone" if crates <= 1 else
            f"for smcache and {crates - 1} dependencies not built before")
    w(f"Release build: {facts['build_crate_s']} s {what} "
      f"({how}, under `nice -n 10`)"
      + (f"; {facts['build_full_s']} s from scratch, all dependencies included "
         "(a fresh target directory)." if facts.get("build_full_s") else "."))
    w(f"Binary: target/release/smcache {int(facts['bin_bytes']) / 1048576:.2f} MiB "
      f"({facts['bin_bytes']} bytes, {facts.get('bin_stripped', '?')}). TLS: {facts.get('tls', '?')}.")
    w("")

    calls_total = int(facts["calls_cold_env"].split()[0])
    mem_ratio = rss("get_cached") / rss("sled_default")

    def timing_goals(t):
        return [
            ("cached `get` ≤ 1.1x bare sled open-read",
             t("get_cached") / t("sled_default"), lambda x: x <= 1.1, "{:.2f}x"),
            ("cached `get` ≥ 60x faster than the AWS CLI",
             cli / t("get_cached"), lambda x: x >= 60, "{:.0f}x"),
            ("`get --no-cache` ≥ 20x faster than the AWS CLI",
             cli / t("get_nocache"), lambda x: x >= 20, "{:.0f}x"),
            ("hit with 2,000 cached ≤ 1.3x hit with one",
             t("get_2000") / t("get_cached"), lambda x: x <= 1.3, "{:.2f}x"),
            ("`env` of 20 cached ≤ 1.5x cached `get`",
             t("env20") / t("get_cached"), lambda x: x <= 1.5, "{:.2f}x"),
        ]

    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    rows = []
    inter_goals = timing_goals(lambda label: inter[label]) if inter else None
    for i, (goal, value, ok, fmt) in enumerate(timing_goals(ms)):
        row = [goal, fmt.format(value), verdict(ok(value))]
        if inter_goals:
            _, ivalue, iok, _ = inter_goals[i]
            row += [fmt.format(ivalue), verdict(iok(ivalue))]
        rows.append(row)
    rows.insert(3, ["cached `get` peak memory ≤ 2x bare sled",
                    f"{rss('get_cached') / 1024:.1f} / {rss('sled_default') / 1024:.1f} MiB = "
                    f"{mem_ratio:.2f}x", verdict(mem_ratio <= 2)] + (["", ""] if inter else []))
    rows.append(["cold `env` of 20 ≤ 3 API calls", f"{calls_total}", verdict(calls_total <= 3)]
                + (["", ""] if inter else []))
    if inter:
        w("| goal (issue #5) | hyperfine | result | interleaved | result |")
        w("|---|---:|:---:|---:|:---:|")
    else:
        w("| goal (issue #5) | measured | result |")
        w("|---|---:|:---:|")
    for row in rows:
        w("| " + " | ".join(row) + " |")
    w("")
    w(f"Command: `{facts.get('command', 'scripts/bench')}`")
    print("\n".join(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ready":
        ready(*args)
    elif cmd == "create":
        create(*args)
    elif cmd == "proxy":
        proxy(*args)
    elif cmd == "delta":
        delta(*args)
    elif cmd == "median-rss":
        median_rss(args)
    elif cmd == "interleave":
        interleave(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
