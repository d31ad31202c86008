"""The voice Deployment (CPU image, offline models) answers from inside the cluster.

A Job in a namespace of its own (Pod Security "restricted") reaches the voice
Service by its DNS name, has it speak a sentence (Piper) and transcribe that
speech back (faster-whisper), and prints the transcript. Without the token (the
Secret factoryos-voice) the service answers 401.
"""

from __future__ import annotations

import base64
import json

from cluster_support import SYSTEM, Cluster

CLIENT = """
import httpx
base = "http://factoryos-voice.factoryos-system.svc:8500"
auth = {{"Authorization": "Bearer {token}"}}
assert httpx.get(base + "/v1/capabilities", timeout=60).status_code == 401
speech = httpx.post(base + "/v1/synthesize", json={{"text": "hello from the cluster"}},
                    headers=auth, timeout=300)
speech.raise_for_status()
heard = httpx.post(base + "/v1/transcribe", content=speech.content,
                   headers={{"Content-Type": speech.headers["content-type"], **auth}}, timeout=300)
heard.raise_for_status()
print("TRANSCRIPT:" + heard.json()["text"])
"""

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {{name: ask-voice}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {{type: RuntimeDefault}}
      containers:
      - name: client
        image: factoryos-runner:dev
        imagePullPolicy: IfNotPresent
        command: [python, -c, {client}]
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {{drop: [ALL]}}
"""


def test_the_voice_service_transcribes_through_its_service_from_a_pod(cluster: Cluster) -> None:
    cluster.kubectl("-n", SYSTEM, "rollout", "status", "deploy/factoryos-voice", "--timeout=300s")
    ns = cluster.namespace("voice")
    encoded = cluster.kubectl(
        "-n", SYSTEM, "get", "secret", "factoryos-voice", "-o", "jsonpath={.data.token}"
    )
    client = CLIENT.format(token=base64.b64decode(encoded.strip()).decode())
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=JOB.format(client=json.dumps(client)))
    cluster.kubectl("wait", "-n", ns, "--for=condition=Complete", "--timeout=300s", "job/ask-voice")
    logs = cluster.kubectl("logs", "-n", ns, "job/ask-voice")
    transcript = logs.split("TRANSCRIPT:", 1)[-1].lower()
    assert "hello" in transcript and "cluster" in transcript, logs
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
