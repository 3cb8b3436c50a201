#!/usr/bin/python3
"""`bertology importance` over several hosts gives the bits of one process.

The hosts are simulated on this machine: mpirun gets `--host 127.0.0.2:1,127.0.0.3:1[,...]`
(loopback addresses that are not this machine's own address, so Open MPI treats each as a
remote node) and an rsh agent that runs the daemon command locally instead of over ssh.
`--mca btl self,tcp` keeps shared memory out between the "hosts": every message between
ranks crosses TCP, as between nodes, and run.h5 is written by ranks on different nodes through
MPI-IO. The agent logs each host it was asked to start, so the test knows the ranks really
were spread over the hosts.

For 2 and 3 hosts, with every attention map and hidden state saved: head_importance.npy,
attn_entropy.npy and every run.h5 dataset are byte-identical to `mpirun -np 1`, and the
attributes equal except the volatile ones (command line, time, rank count).
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sweep"))
import common  # noqa: E402
from common import check  # noqa: E402

SUBSET = 40
AGENT = """#!/bin/sh
# rsh/ssh stand-in for simulated hosts: skip rsh options, log the host, run the command here.
while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done
echo "$1" >> "{log}"
shift
exec /bin/sh -c "$*"
"""


def main():
    ap = common.parser(__doc__)
    ap.add_argument("--source", required=True)
    args = common.setup(ap.parse_args())
    model = os.path.join(args.source, "data", "demo-sst2")
    flags = ["--subset", SUBSET, "--batch-tokens", 256, "--save-attentions", "--save-hidden",
             "--dtype", "f32"]
    ref = os.path.join(args.work, "np1")
    if not common.importance(args, 1, ref, model, *flags):
        return common.finish()

    # mpirun splits plm_rsh_agent at spaces (it may carry arguments), and the checkout's path
    # may have one: the agent lives in a directory of its own under /tmp
    agents = tempfile.mkdtemp(prefix="bt-agent-")
    for n_hosts in (2, 3):
        log = os.path.join(agents, "agent-%d.log" % n_hosts)
        agent = os.path.join(agents, "agent-%d.sh" % n_hosts)
        with open(agent, "w") as f:
            f.write(AGENT.replace("{log}", log))
        os.chmod(agent, os.stat(agent).st_mode | stat.S_IXUSR)
        hosts = ",".join("127.0.0.%d:1" % (2 + i) for i in range(n_hosts))
        out = os.path.join(args.work, "hosts%d" % n_hosts)
        cmd = [args.mpiexec, "--allow-run-as-root", "-np", str(n_hosts), "--host", hosts,
               "--mca", "plm_rsh_agent", agent, "--mca", "btl", "self,tcp",
               "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
               args.bertology, "importance", "--model", model, "--task", "sst-2", "--data", args.sst2,
               "--out", out, "--threads", "1", "--quiet"] + [str(x) for x in flags]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            check(False, "%d hosts: timed out" % n_hosts)
            continue
        if not check(p.returncode == 0, "%d hosts: exit %d\n%s" % (n_hosts, p.returncode, p.stderr[-2000:])):
            continue
        started = sorted(open(log).read().split()) if os.path.exists(log) else []
        want = sorted("127.0.0.%d" % (2 + i) for i in range(n_hosts))
        check(started == want, "%d hosts: the agent started daemons on %s, want %s" % (n_hosts, started, want))
        check("%d ranks" % n_hosts in p.stdout, "%d hosts: not %d ranks:\n%s" % (n_hosts, n_hosts, p.stdout[-500:]))
        for f in ("head_importance.npy", "attn_entropy.npy"):
            check(open(os.path.join(ref, f), "rb").read() == open(os.path.join(out, f), "rb").read(),
                  "%d hosts: %s differs from np=1" % (n_hosts, f))
        n = common.compare_h5(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), "%d hosts" % n_hosts)
        print("%d hosts (%s): %d run.h5 datasets bitwise equal to np=1" % (n_hosts, ",".join(started), n))
    shutil.rmtree(agents, ignore_errors=True)
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
