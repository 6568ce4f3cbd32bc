"""ECS services' tasks, run here as processes, behind their target group's health checks.

On AWS: a service runs its desired count of tasks of its task definition revision. A task starts
only if its execution role may pull the image (and the subnets reach ECR and S3), write its logs
and read its secrets; it gets its task role's credentials from ECS's credentials endpoint. A
rolling deployment starts the new revision's tasks, registers them with the target group, and
stops the old ones once the new are healthy; a task that exits, or fails the load balancer's
health check after the service's grace period, is stopped and replaced, and the deployment
circuit breaker fails the deployment after half the desired count of such failures (rounded up,
at least 3, at most 200), rolling
back to the last completed revision when rollback is on. CloudFormation's update of the service
fails with it, and the stack rolls back.
In moto: a service is a record; no task runs, and a deployment "completes" at once.
Here (when SHIPIT_RIG_RUN_TASKS=1; scripts/local-cloud sets it): the image is looked up in the
local cloud's ECR (a digest it does not hold cannot be pulled), and an image carries how it runs
on this machine, which has no container runtime: its manifest's annotations name a command
(LOCAL_COMMAND, run with /bin/sh -c) and the directory it runs in (LOCAL_DIRECTORY). Each task is
that command, with the container's environment, its secrets resolved from Secrets Manager or SSM,
PORT set to a loopback port of its own (awsvpc gives each task an address; here each gets a
port), AWS_ENDPOINT_URL set to the local cloud, and AWS_CONTAINER_CREDENTIALS_FULL_URI serving its
task role's credentials, judged by rig/function_identity.py like a function's. The health
checker (one thread) asks every task of a service with a target group for the group's path and
matcher, with its timeout, following no redirect (a new target is healthy after one pass, then
the thresholds decide); deploy() waits for the new tasks as ECS does and raises
DeploymentFailed when the circuit breaker trips (the old tasks keep serving) or the deadline
passes. While it waits it lets go of the local cloud's lock on moto (MOTO_LOCK), so the tasks'
own calls and every other request are answered meanwhile. The health checks' interval and the
grace period run at TIME_SCALE of their length, so a task must pass its first check within a
tenth of the grace period here; a deployment gives up after DEADLINE (moto's change sets are
synchronous, and shipit's read timeout is 30 s). targets() answers a load balancer's targets
and their health for shipit's local API Gateway, without moto's lock; credentials() is ECS's
credentials endpoint, rotating a task's credentials half-way to their expiry.
When the data tier runs (rig/datatier.py), a task trusts its CAs: SSL_CERT_FILE and
RDS_CA_BUNDLE name files in the task's directory (_trust()).
Not reproduced (stack/README.md): the image's own file system, user and read-only root (the
command runs as the local cloud's user in its directory); CPU and memory limits; draining (an
old task stops at once, after the new ones are healthy); ECS's replacement of a task that dies
between deployments; a Secrets Manager reference's version stage and id are read as given, its
JSON key too, but a cross-account secret is not.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import http.client

RUN_VAR = "SHIPIT_RIG_RUN_TASKS"
LOCAL_COMMAND = "dev.shipit.local.command"
LOCAL_DIRECTORY = "dev.shipit.local.directory"
TIME_SCALE = 0.1
DEADLINE = 20.0
OWNER_FILE = "shipit-owner"
DIRECTORY_PREFIX = "shipit-task-"

# The local cloud's own URL, for the tasks' SDKs and credentials (scripts/local-cloud sets it).
ENDPOINT = None

_lock = threading.Condition()
_services = {}  # service ARN -> Service
_tasks = {}  # task id -> Task
_checker = None


class DeploymentFailed(Exception):
    """A deployment that did not reach a steady state; the message is ECS's event, `tripped`
    whether the circuit breaker stopped it."""

    def __init__(self, message, tripped):
        super().__init__(message)
        self.tripped = tripped


# The local cloud's lock on moto's backends (scripts/local-cloud sets it): a deployment lets go
# of it while it waits for its tasks, which call the local cloud themselves.
MOTO_LOCK = None


class _unlocked:
    """Releases MOTO_LOCK for a while (held by the request that runs the deployment)."""

    def __enter__(self):
        self.held = MOTO_LOCK is not None and MOTO_LOCK.locked()
        if self.held:
            MOTO_LOCK.release()

    def __exit__(self, *exc):
        if self.held:
            MOTO_LOCK.acquire()


def enabled():
    return os.environ.get(RUN_VAR) == "1"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HealthCheck:
    """A target group's health check, as ALB runs it (intervals scaled by TIME_SCALE)."""

    def __init__(self, group):
        self.group_arn = group.arn
        self.path = group.health_check_path or "/"
        self.interval = float(group.health_check_interval_seconds or 30) * TIME_SCALE
        self.timeout = float(group.health_check_timeout_seconds or 5)
        self.healthy = int(group.healthy_threshold_count or 5)
        self.unhealthy = int(group.unhealthy_threshold_count or 2)
        self.codes = str((group.matcher or {}).get("HttpCode") or "200")
        self.load_balancers = list(group.load_balancer_arns)

    def matches(self, status):
        """Whether `status` is what the matcher accepts ("200", "200,202", "200-299")."""
        for part in self.codes.split(","):
            low, _, high = part.strip().partition("-")
            if low and int(low) <= status <= int(high or low):
                return True
        return False


class Service:
    """What the rig runs for one ECS service: its tasks and its target group's check."""

    def __init__(self, arn, check, grace):
        self.arn, self.check, self.grace = arn, check, grace
        self.revision = None  # the revision of the last completed deployment


class Task:
    def __init__(self, service, revision, launch):
        self.id = secrets.token_hex(16)
        self.service = service
        self.revision = revision.arn
        self.arn = service.arn.replace(":service/", ":task/").rsplit("/", 1)[0] + "/" + self.id
        self.port = _free_port()
        self.token = secrets.token_urlsafe(24)
        self.caller = launch.caller
        self.credentials = None
        self.health = "initial"  # ALB's target states: initial, healthy, unhealthy
        self.streak = 0  # consecutive results of the same kind
        self.last = None  # the kind of the last result: healthy or unhealthy
        self.started = time.monotonic()
        self.stopped = None  # ECS's stoppedReason, once stopped
        self.process = None
        self.directory = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX)

    def log_tail(self):
        try:
            with open(os.path.join(self.directory, "output.log"), "rb") as f:
                return f.read()[-1500:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self, reason):
        """Stops the task's processes (its whole process group: a shell that did not exec its
        command leaves children behind) and forgets its directory."""
        if self.stopped is None:
            self.stopped = reason
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                    self.process.wait(3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
        with _lock:
            _tasks.pop(self.id, None)
            _lock.notify_all()


class Launch:
    """How a revision's tasks start here, or why they cannot (ECS's stopped reason)."""

    def __init__(self, revision, service, account, region):
        self.refusal = None
        self.command = self.directory = None
        self.environment = {}
        container = (revision.container_definitions or [{}])[0]
        subnets = ((service.network_configuration or {}).get("awsvpcConfiguration") or {}).get(
            "subnets") or []
        from rig.function_identity import Caller
        role = getattr(revision, "task_role_arn", None)  # moto sets it only when given
        self.caller = Caller(role, "", account, region, subnets) if role else None
        try:
            self._prepare(container, revision, subnets, account, region)
        except _Refused as e:
            self.refusal = str(e)

    def _prepare(self, container, revision, subnets, account, region):
        from rig.function_identity import allowed, reachable
        image = container.get("image") or ""
        execution = getattr(revision, "execution_role_arn", None)
        manifest = _manifest(image, account, region)
        for service in ("ecr.api", "ecr.dkr", "s3"):
            if not reachable(account, region, subnets, service):
                raise _Refused(f"CannotPullContainerError: pull image manifest has been retried "
                               f"5 time(s): failed to resolve ref {image}: the task's subnets "
                               f"reach no {service} endpoint and no NAT gateway (i/o timeout)")
        repository = _repository_arn(image)
        if not execution:
            raise _Refused("CannotPullContainerError: the task definition has no execution "
                           "role to pull the image with (ExecutionRoleArn)")
        for action, resource in (("ecr:GetAuthorizationToken", "*"),
                                 ("ecr:BatchGetImage", repository),
                                 ("ecr:GetDownloadUrlForLayer", repository)):
            why = allowed(execution, action, resource)
            if why is not None:
                raise _Refused(f"CannotPullContainerError: the execution role {execution} may "
                               f"not {action} on {resource}: {why}")
        logs = (container.get("logConfiguration") or {})
        if logs.get("logDriver") == "awslogs":
            group = (logs.get("options") or {}).get("awslogs-group", "")
            if not reachable(account, region, subnets, "logs"):
                raise _Refused("ResourceInitializationError: failed to validate logger args: "
                               "the task's subnets reach no logs endpoint (i/o timeout)")
            if not _log_group_exists(group, account, region):
                raise _Refused(f"ResourceInitializationError: failed to validate logger args: "
                               f"the log group {group} does not exist")
            stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:x"
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                why = allowed(execution, action, stream)
                if why is not None:
                    raise _Refused(f"ResourceInitializationError: the execution role may not "
                                   f"{action} on log group {group}: {why}")
        for pair in container.get("environment") or []:
            self.environment[pair.get("name", "")] = str(pair.get("value", ""))
        for secret in container.get("secrets") or []:
            self.environment[secret["name"]] = _secret(secret["valueFrom"], execution, subnets,
                                                       account, region)
        annotations = manifest.get("annotations") or {}
        self.command = annotations.get(LOCAL_COMMAND)
        self.directory = annotations.get(LOCAL_DIRECTORY) or None
        if not self.command:
            raise _Refused(f"the local cloud has no container runtime: image {image} names no "
                           f"local command (its manifest's {LOCAL_COMMAND} annotation; shipit's "
                           f"[api] local_command)")
        if self.directory and not os.path.isdir(self.directory):
            raise _Refused(f"image {image}: its local directory {self.directory} does not exist")


class _Refused(Exception):
    pass


def _log_group_exists(group, account, region):
    from moto.logs.models import logs_backends
    return group in logs_backends[account][region].groups


def _repository_arn(image):
    """The ECR repository's ARN of `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME@sha256:...`."""
    host, _, rest = image.partition("/")
    parts = host.split(".")
    name = rest.split("@", 1)[0].split(":", 1)[0]
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"]:
        return f"arn:aws:ecr:*:*:repository/{name}"
    return f"arn:aws:ecr:{parts[3]}:{parts[0]}:repository/{name}"


def _manifest(image, account, region):
    """The image's manifest from the local cloud's ECR, or _Refused as a pull would fail."""
    from moto.ecr.models import ecr_backends
    host, _, rest = image.partition("/")
    name, at, digest = rest.partition("@")
    parts = host.split(".")
    if not at or len(parts) < 6 or parts[1:3] != ["dkr", "ecr"]:
        raise _Refused(f"CannotPullContainerError: {image} is not an ECR image by digest here")
    try:
        repository = ecr_backends[parts[0]][parts[3]].repositories[name]
    except KeyError:
        raise _Refused(f"CannotPullContainerError: pull image manifest has been retried 5 "
                       f"time(s): failed to resolve ref {image}: repository {name} not found")
    for candidate in repository.images:
        if candidate.get_image_digest() == digest:
            try:
                return json.loads(candidate.image_manifest)
            except ValueError:
                return {}
    raise _Refused(f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                   f"failed to resolve ref {image}: {digest} not found")


def _secret(value_from, execution, subnets, account, region):
    """A container secret's value, as ECS resolves it when the task starts (Secrets Manager by
    ARN, or an SSM parameter by ARN or name), judged against the execution role."""
    from rig.function_identity import allowed, reachable
    key = stage = version = None
    if ":secretsmanager:" in value_from:
        service, action = "secretsmanager", "secretsmanager:GetSecretValue"
        parts = value_from.split(":")
        resource = ":".join(parts[:7])
        # arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:json-key:version-stage:version-id]
        key, stage, version = (parts[7:] + ["", "", ""])[:3]
    else:
        service, action = "ssm", "ssm:GetParameters"
        name = value_from.split(":parameter", 1)[-1] if value_from.startswith("arn:") \
            else value_from
        name = "/" + name.lstrip("/")
        resource = f"arn:aws:ssm:{region}:{account}:parameter{name}"
    if not reachable(account, region, subnets, service):
        raise _Refused(f"ResourceInitializationError: unable to pull secrets or registry auth: "
                       f"the task's subnets reach no {service} endpoint (i/o timeout)")
    why = allowed(execution, action, resource) if execution else \
        "the task definition has no execution role (ExecutionRoleArn)"
    if why is not None:
        raise _Refused(f"ResourceInitializationError: unable to pull secrets or registry auth: "
                       f"AccessDeniedException: {action} on {resource}: {why}")
    try:
        if service == "secretsmanager":
            from moto.secretsmanager.models import secretsmanager_backends
            text = secretsmanager_backends[account][region].get_secret_value(
                resource, version or None, stage or ("AWSCURRENT" if not version else None)
            )["SecretString"]
            if not key:
                return text
            value = json.loads(text)[key]
            return value if isinstance(value, str) else json.dumps(value)
        from moto.ssm.models import ssm_backends
        found = ssm_backends[account][region].get_parameter(name)
        if found is None:
            raise KeyError(f"ParameterNotFound: {name}")
        # moto keeps a SecureString as kms:KEY:VALUE; ECS hands the task the value.
        return found.decrypt(found.value) if found.parameter_type == "SecureString" \
            else found.value
    except Exception as e:
        raise _Refused(f"ResourceInitializationError: unable to retrieve secret {value_from}: "
                       f"{type(e).__name__}: {e}")


def _mint(task, region):
    """New credentials of the task's role (moto's STS; the caller holds moto's lock)."""
    from rig.function_identity import Caller, task_credentials
    caller = Caller(task.caller.role, task.id, task.caller.account, region,
                    task.caller.subnets)
    task.region = region
    task.credentials = task_credentials(caller)
    task.minted = time.monotonic()


def _start(task, launch, region):
    """Runs the task's command, or stops the task with ECS's reason."""
    if launch.refusal:
        task.stop(launch.refusal)
        return
    try:
        _run(task, launch, region)
    except Exception as e:  # the directory vanished, a bad environment: the task cannot start
        task.stop(f"CannotStartContainerError: {type(e).__name__}: {e}")


def _run(task, launch, region):
    if task.caller is not None:
        _mint(task, region)
    env = {k: os.environ[k] for k in ("PATH", "LANG", "NO_PROXY") if k in os.environ}
    env.update(launch.environment)
    env.update({"PORT": str(task.port), "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE", "HOME": task.directory,
                "TMPDIR": task.directory})
    for k, v in _trust(task.directory).items():
        env.setdefault(k, v)  # the task definition's own setting wins
    if ENDPOINT:
        env["AWS_ENDPOINT_URL"] = ENDPOINT
        if task.credentials:
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"{ENDPOINT}/_shipit/ecs/credentials/{task.id}"
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = task.token
    with open(os.path.join(task.directory, "output.log"), "ab") as log:
        task.process = subprocess.Popen(["/bin/sh", "-c", launch.command],
                                        cwd=launch.directory or task.directory, env=env,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=True)
    with open(os.path.join(task.directory, OWNER_FILE), "w") as f:
        f.write(f"{os.getpid()} {task.process.pid}")
    with _lock:
        _tasks[task.id] = task


SYSTEM_ROOTS = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def _trust(directory):
    """What a task must trust to reach the local data tier, as files in its directory:
    SSL_CERT_FILE, the machine's public roots and the data tier's public CA (Redis's
    certificate; on AWS a public one), and RDS_CA_BUNDLE, the local RDS CA (on AWS the image
    carries RDS's global bundle, which site-example's handler reads unless RDS_CA_BUNDLE names
    another). Nothing while the data tier has made no certificate."""
    from rig import datatier
    env = {}
    public = datatier.trusted(datatier.PUBLIC_CA)
    if public:
        roots = ""
        for candidate in SYSTEM_ROOTS:
            if os.path.exists(candidate):
                with open(candidate) as f:
                    roots = f.read()
                break
        path = os.path.join(directory, "ca-bundle.pem")
        with open(path, "w") as f:
            f.write(roots.rstrip("\n") + "\n" + "".join(public))
        env["SSL_CERT_FILE"] = path
    rds = datatier.trusted(datatier.RDS_CA)
    if rds:
        path = os.path.join(directory, "rds-ca-bundle.pem")
        with open(path, "w") as f:
            f.write("".join(rds))
        env["RDS_CA_BUNDLE"] = path
    return env


def _probe(task, check):
    """One health check: the status the path answers, as ALB matches it (a redirect is not
    followed: its 3xx is what is matched)."""
    connection = http.client.HTTPConnection("127.0.0.1", task.port, timeout=check.timeout)
    try:
        connection.request("GET", check.path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        return check.matches(connection.getresponse().status)
    except Exception:
        return False
    finally:
        connection.close()


def _check_forever():
    """The load balancer's health checker: every task with a target group, each interval."""
    while True:
        with _lock:
            due = [t for t in _tasks.values() if t.service.check is not None
                   and t.stopped is None and t.health != "draining"]
        for task in due:
            ok = _probe(task, task.service.check)
            with _lock:
                kind = "healthy" if ok else "unhealthy"
                task.streak = task.streak + 1 if task.last == kind else 1
                task.last = kind
                # A newly registered target is healthy after one passing check; then the
                # thresholds decide (ALB's health checks).
                need = task.service.check.healthy if ok else task.service.check.unhealthy
                if task.streak >= need or (ok and task.health == "initial"):
                    task.health = kind
                _lock.notify_all()
        interval = min((t.service.check.interval for t in due), default=TIME_SCALE * 10)
        time.sleep(max(interval, 0.05))


def _ensure_checker():
    global _checker
    with _lock:
        if _checker is None or not _checker.is_alive():
            _checker = threading.Thread(target=_check_forever, daemon=True,
                                        name="rig-health-checker")
            _checker.start()


def threshold(desired):
    """The circuit breaker's failure threshold: half the desired count, at least 3, at most 200."""
    return max(3, min(200, (desired + 1) // 2))


def _failure(task, now):
    """Why ECS stops `task` now (its process exited, or it failed its health checks once the
    grace period is over), or None."""
    if task.stopped:
        return task.stopped
    if task.process is not None and task.process.poll() is not None:
        tail = task.log_tail()
        return (f"Essential container in task exited (exit code {task.process.returncode})"
                + (f": {tail}" if tail else ""))
    if task.health == "unhealthy" and now - task.started >= task.service.grace:
        return f"Task failed ELB health checks in (target-group {task.service.check.group_arn})"
    return None


def deploy(backend, service, revision, desired, configuration, grace):
    """Runs `revision` as `service`'s tasks (moto's Service and TaskDefinition), rolling as ECS
    does; returns once `desired` new tasks are healthy (the old ones then stop), else stops the
    new ones and raises DeploymentFailed (the old ones keep running)."""
    if not enabled():
        return
    account, region = backend.account_id, backend.region_name
    check = None
    for lb in service.load_balancers or []:
        group = lb.get("targetGroupArn")
        if group:
            from moto.elbv2.models import elbv2_backends
            found = elbv2_backends[account][region].target_groups.get(group)
            check = HealthCheck(found) if found is not None else None
    with _lock:
        state = _services.get(service.arn)
        if state is None:
            state = _services[service.arn] = Service(service.arn, check, 0)
        state.check, state.grace = check, float(grace or 0) * TIME_SCALE
        old = [t for t in _tasks.values() if t.service is state]
    if state.revision == revision.arn and len(old) == desired:
        return
    _ensure_checker()
    launch = Launch(revision, service, account, region)
    breaker = (configuration or {}).get("deploymentCircuitBreaker") or {}
    limit = threshold(desired)
    failures, reasons, new = 0, [], []
    end = time.monotonic() + DEADLINE

    def start_one():
        task = Task(state, revision, launch)
        new.append(task)
        _start(task, launch, region)

    try:
        for _ in range(desired):
            start_one()
        while True:
            now = time.monotonic()
            for task in list(new):
                why = _failure(task, now)
                if why:
                    task.stop(why)
                    new.remove(task)
                    failures += 1
                    reasons.append(why)
                    if failures >= limit and breaker.get("enable"):
                        break
                    start_one()
            healthy = [t for t in new if t.health == "healthy"
                       or (check is None and t.process and now - t.started > 1)]
            if len(healthy) >= desired:
                for task in old:
                    task.stop("Scaling activity initiated by (deployment ecs-svc)")
                state.revision = revision.arn
                return
            if failures >= limit and breaker.get("enable"):
                tripped, why = True, "ECS Deployment Circuit Breaker was triggered"
                break
            if now >= end:
                tripped = False
                why = (f"the deployment did not reach a steady state within the local "
                       f"cloud's {DEADLINE:.0f} s (its tasks must pass the load balancer's "
                       f"health check within a tenth of the service's grace period here)")
                break
            with _unlocked():  # the local cloud answers meanwhile, the tasks' calls included
                with _lock:
                    _lock.wait(0.1)
    except BaseException:
        for task in new:
            task.stop("Deployment failed")
        raise
    for task in new:
        task.stop("Deployment failed")
    last = reasons[-1] if reasons else "tasks never became healthy"
    raise DeploymentFailed(f"{why} ({failures} task(s) failed; the last: {last}); "
                           f"the service keeps {state.revision or 'no revision'}",
                           tripped)


def stop_service(arn):
    """Stops a deleted service's tasks."""
    with _lock:
        state = _services.pop(arn, None)
        tasks = [t for t in _tasks.values() if t.service is state]
    for task in tasks:
        task.stop("Service deleted")


def targets(load_balancer):
    """The targets behind `load_balancer`'s target groups: [{address, health}], for shipit's
    local API Gateway (a VPC link's private integration)."""
    with _lock:
        return [{"address": f"127.0.0.1:{t.port}", "health": t.health, "task": t.arn}
                for t in _tasks.values()
                if t.service.check is not None and t.stopped is None
                and load_balancer in t.service.check.load_balancers]


def health(group_arn):
    """(target address, port, state) of every running task registered with `group_arn`."""
    with _lock:
        return [("127.0.0.1", t.port, t.health) for t in _tasks.values()
                if t.service.check is not None and t.service.check.group_arn == group_arn
                and t.stopped is None]


def managed(group_arn):
    """Whether a service whose tasks the rig runs is registered with `group_arn`."""
    with _lock:
        return any(s.check is not None and s.check.group_arn == group_arn
                   for s in _services.values())


def credentials(task_id, authorization):
    """(status, doc) for ECS's credentials endpoint: the task's role credentials, given the
    token the task was started with; minted again (under moto's lock) once they are half-way
    to their expiry, as ECS rotates them."""
    with _lock:
        task = _tasks.get(task_id)
    if task is None or not task.credentials:
        return "404 Not Found", {"message": f"no running task {task_id}"}
    given = (authorization or "").encode("utf-8", "replace")
    if not secrets.compare_digest(given, task.token.encode()):
        return "401 Unauthorized", {"message": "the authorization token does not match"}
    from rig.function_identity import SESSION_SECONDS
    if time.monotonic() - task.minted > SESSION_SECONDS / 2:
        if MOTO_LOCK is not None:
            with MOTO_LOCK:
                _mint(task, task.region)
        else:
            _mint(task, task.region)
    return "200 OK", task.credentials


def stop_all():
    with _lock:
        tasks = list(_tasks.values())
        _services.clear()
    for task in tasks:
        task.stop("the local cloud stopped")


def sweep_orphans():
    """Stops the tasks (process groups) a local cloud killed without its exit left running."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        if not name.startswith(DIRECTORY_PREFIX):
            continue
        directory = os.path.join(base, name)
        try:
            with open(os.path.join(directory, OWNER_FILE)) as f:
                owner, leader = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
            continue  # its local cloud still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        if _is_task(leader, directory):
            try:
                os.killpg(leader, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(directory, ignore_errors=True)


def _is_task(pid, directory):
    """Whether process group `pid` is still the task that ran in `directory`: its leader, when
    alive, has that HOME (else the number went to another process since); a dead leader's
    number is not reused while its group has members, so those are the task's."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"HOME={directory}".encode() in f.read().split(b"\0")
    except FileNotFoundError:
        return True
    except OSError:
        return False
