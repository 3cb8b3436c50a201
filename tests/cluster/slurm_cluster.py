"""A real single-node Slurm for the tests, from Debian's slurm-wlm and munge: munged, slurmctld
and slurmd started as the current user (root) with every file in one temporary directory
(slurm.conf, munge key and socket, state, spool, logs, pids) on ports nobody else uses, and
stopped afterwards. Nothing outside the directory is touched; SLURM_CONF points the client
commands at it.

    with SlurmCluster(workdir, cpus=2) as sl:
        sl.sbatch([...], wait=True)

SlurmUnavailable (with the reason) when the daemons are missing or do not come up: the caller
skips the test with that reason.
"""
import os
import shutil
import signal
import socket
import subprocess
import time


class SlurmUnavailable(Exception):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONF = """ClusterName=bttest
SlurmctldHost=localhost
SlurmUser={user}
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={d}/munge/sock
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
# what runs without cgroups or a real node: processes tracked by parentage, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# a stock Debian Slurm: no MPI plugin by default (the job scripts must choose one themselves)
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
JobRequeue=1
NodeName={host} NodeAddr=127.0.0.1 NodeHostname={hostname} CPUs={cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={cpus} ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""


class SlurmCluster:
    def __init__(self, workdir, cpus=2):
        self.d = os.path.abspath(workdir)
        self.cpus = cpus
        self.env = dict(os.environ, SLURM_CONF=os.path.join(self.d, "slurm.conf"))
        self.procs = []

    # -- start / stop ---------------------------------------------------------------------
    def __enter__(self):
        for tool in ("munged", "slurmctld", "slurmd", "sbatch", "scontrol"):
            if not shutil.which(tool):
                raise SlurmUnavailable("%s not installed (Debian: slurm-wlm, munge)" % tool)
        if os.path.isdir(self.d):
            shutil.rmtree(self.d)
        for sub in ("munge", "state", "spool", "log", "run"):
            os.makedirs(os.path.join(self.d, sub))
        key = os.path.join(self.d, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        os.chmod(os.path.join(self.d, "munge"), 0o700)
        try:
            self._run(["munged", "--force", "--socket=%s/munge/sock" % self.d, "--key-file=%s" % key,
                       "--log-file=%s/log/munged.log" % self.d, "--pid-file=%s/run/munged.pid" % self.d,
                       "--seed-file=%s/munge/seed" % self.d], "munged")
            hostname = socket.gethostname()
            with open(self.env["SLURM_CONF"], "w") as f:
                f.write(CONF.format(d=self.d, host="localhost", hostname=hostname, cpus=self.cpus,
                                    user=_user(), ctld_port=_free_port(), slurmd_port=_free_port()))
            self._run(["slurmctld", "-i"], "slurmctld")
            self._run(["slurmd", "-N", "localhost"], "slurmd")
            self._wait_idle()
        except SlurmUnavailable:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        # slurmd first (it kills its jobs' steps), then the controller, then munge
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self._pid(name)
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                for _ in range(50):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.1)
                else:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        shutil.rmtree(self.d, ignore_errors=True)
        return False

    def _pid(self, name):
        try:
            with open(os.path.join(self.d, "run", "%s.pid" % name)) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _run(self, cmd, name):
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise SlurmUnavailable("%s did not start (exit %d): %s %s" % (
                name, r.returncode, r.stderr.strip()[-500:], self.log(name)[-500:]))

    def _wait_idle(self, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() in ("idle", "idle~", "mixed", "allocated"):
                return
            time.sleep(0.5)
        raise SlurmUnavailable("node never became idle: sinfo says %r; slurmd log: %s" % (
            r.stdout.strip(), self.log("slurmd")[-800:]))

    def log(self, name):
        try:
            with open(os.path.join(self.d, "log", "%s.log" % name)) as f:
                return f.read()
        except OSError:
            return ""

    # -- jobs -----------------------------------------------------------------------------
    def run(self, cmd, timeout=300, **kw):
        try:
            return subprocess.run(cmd, env=kw.pop("env", self.env), capture_output=True, text=True,
                                  timeout=timeout, **kw)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, 124, e.stdout or "", (e.stderr or "") + "\nTIMEOUT")

    def job_field(self, job, field):
        """One field of `scontrol show job` (e.g. JobState, Restarts, ExitCode)."""
        r = self.run(["scontrol", "-o", "show", "job", str(job)], timeout=30)
        for tok in r.stdout.split():
            if tok.startswith(field + "="):
                return tok.split("=", 1)[1]
        return None

    def wait_state(self, job, states, timeout=300):
        t0 = time.time()
        st = None
        while time.time() - t0 < timeout:
            st = self.job_field(job, "JobState")
            if st in states:
                return st
            time.sleep(0.5)
        return st


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name
