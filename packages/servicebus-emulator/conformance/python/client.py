"""The Python column of the conformance suite: azure-servicebus against the emulator.

usage: python client.py <connection string> [lang prefix, default python]
Prints one line per scenario of conformance/scenarios.json, then "N passed, M failed, K skipped".
"""
import datetime
import re
import sys
import time
import traceback

from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)

CONN = sys.argv[1]
LANG = sys.argv[2] if len(sys.argv) > 2 else "python"
P = f"conf-{LANG}"
# What an authorization failure says in each SDK's error (the emulator's description is InvalidSignature).
AUTH_ERROR = re.compile(r"401|unauthori[sz]ed|InvalidSignature|authenticat", re.I)
counts = {"passed": 0, "failed": 0, "skipped": 0}
state = {}


class Skip(Exception):
    pass


def scenario(sid):
    def wrap(fn):
        try:
            fn()
            print(f"PASS {sid}", flush=True)
            counts["passed"] += 1
        except Skip as e:
            print(f"SKIP {sid}: {e}", flush=True)
            counts["skipped"] += 1
        except Exception as e:  # noqa: BLE001 - every failure is a result line
            reason = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
            print(f"FAIL {sid}: {reason}", flush=True)
            if "--trace" in sys.argv:
                traceback.print_exc()
            counts["failed"] += 1
        return fn

    return wrap


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def text(m):
    return b"".join(m.body).decode() if not isinstance(m.body, (str, bytes)) else str(m)


def s(v):
    return v.decode() if isinstance(v, bytes) else v


def props(m):
    return {s(k): s(v) for k, v in (m.application_properties or {}).items()}


def receive_n(receiver, n, wait=5.0):
    out = []
    deadline = time.monotonic() + wait
    while len(out) < n and time.monotonic() < deadline:
        out += receiver.receive_messages(
            max_message_count=n - len(out), max_wait_time=max(0.5, deadline - time.monotonic())
        )
    return out


def now():
    return datetime.datetime.now(datetime.timezone.utc)


client = ServiceBusClient.from_connection_string(CONN, retry_total=1, retry_backoff_factor=0.2)


@scenario("auth.sas")
def _():
    with client.get_queue_sender(f"{P}-auth") as sender:
        sender.send_messages(ServiceBusMessage("auth"))
    with client.get_queue_receiver(f"{P}-auth") as r:
        got = receive_n(r, 1)
        check(got, "no message received")
        eq(text(got[0]), "auth", "body")
        r.complete_message(got[0])


@scenario("auth.wrong-key")
def _():
    bad = ServiceBusClient.from_connection_string(
        re.sub(r"SharedAccessKey=[^;]*", "SharedAccessKey=wrong", CONN), retry_total=0
    )
    refused = None
    try:
        with bad.get_queue_sender(f"{P}-auth") as sender:
            sender.send_messages(ServiceBusMessage("must not arrive"))
    except Exception as e:  # noqa: BLE001
        refused = e
    finally:
        bad.close()
    check(refused is not None, "send with a wrong key succeeded")
    why = f"{type(refused).__name__}: {refused}"
    check(AUTH_ERROR.search(why), f"refused, but not for authorization: {why}")


Q = f"{P}-q"


@scenario("send.single")
def _():
    with client.get_queue_sender(Q) as sender:
        sender.send_messages(
            ServiceBusMessage(
                "hello",
                message_id="conf-m1",
                content_type="text/plain",
                correlation_id="conf-corr-1",
                subject="conf-subject",
                application_properties={"s": "v", "n": 5},
            )
        )


@scenario("send.batch")
def _():
    with client.get_queue_sender(Q) as sender:
        batch = sender.create_message_batch()
        for b in ["b0", "b1", "b2"]:
            batch.add_message(ServiceBusMessage(b))
        sender.send_messages(batch)


receiver = client.get_queue_receiver(Q)
receiver.__enter__()
got = []


@scenario("receive.peek-lock")
def _():
    got.extend(receive_n(receiver, 4))
    eq(",".join(text(m) for m in got), "hello,b0,b1,b2", "bodies")
    m = got[0]
    eq(m.message_id, "conf-m1", "message id")
    eq(m.content_type, "text/plain", "content type")
    eq(m.correlation_id, "conf-corr-1", "correlation id")
    eq(m.subject, "conf-subject", "subject")
    eq(props(m).get("s"), "v", "application property s")
    eq(props(m).get("n"), 5, "application property n")
    seqs = [x.sequence_number for x in got]
    check(all(q > 0 for q in seqs) and seqs == sorted(set(seqs)), f"sequence numbers not increasing: {seqs}")
    check(abs((m.enqueued_time_utc - now()).total_seconds()) < 120, f"enqueued time {m.enqueued_time_utc}")
    check(m.locked_until_utc > now(), f"locked-until {m.locked_until_utc}")


@scenario("lock.renew")
def _():
    check(got, "no message to renew")
    before = got[0].locked_until_utc
    after = receiver.renew_message_lock(got[0])
    check(after >= before, f"renewed locked-until {after} earlier than {before}")


@scenario("settle.complete")
def _():
    check(got, "no message")
    receiver.complete_message(got[0])


@scenario("settle.abandon")
def _():
    check(len(got) > 1, "no message")
    before = got[1].delivery_count
    receiver.abandon_message(got[1])
    again = receive_n(receiver, 1)
    check(again, "abandoned message not delivered again")
    eq(text(again[0]), "b0", "redelivered body")
    eq(again[0].delivery_count, before + 1, "delivery count")
    receiver.complete_message(again[0])


@scenario("settle.dead-letter")
def _():
    check(len(got) > 2, "no message")
    receiver.dead_letter_message(got[2], reason="conf-reason", error_description="conf-desc")
    if len(got) > 3:
        receiver.complete_message(got[3])


receiver.__exit__(None, None, None)


@scenario("dlq.receive")
def _():
    with client.get_queue_receiver(Q, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as r:
        got = receive_n(r, 1)
        check(got, "nothing in the dead-letter queue")
        m = got[0]
        eq(text(m), "b1", "body")
        eq(m.dead_letter_reason, "conf-reason", "dead-letter reason")
        eq(m.dead_letter_error_description, "conf-desc", "dead-letter description")
        r.complete_message(m)


@scenario("defer")
def _():
    with client.get_queue_sender(f"{P}-defer") as sender:
        sender.send_messages(ServiceBusMessage("deferred"))
    with client.get_queue_receiver(f"{P}-defer") as r:
        got = receive_n(r, 1)
        check(got, "no message")
        m = got[0]
        r.defer_message(m)
        deferred = r.receive_deferred_messages([m.sequence_number])
        check(deferred, "deferred message not returned")
        eq(text(deferred[0]), "deferred", "deferred body")
        r.complete_message(deferred[0])
        left = r.peek_messages(max_message_count=10, sequence_number=m.sequence_number)
        eq(len(left), 0, "messages left")


@scenario("schedule")
def _():
    at = now() + datetime.timedelta(seconds=2)
    with client.get_queue_sender(f"{P}-sched") as sender:
        seqs = sender.schedule_messages(ServiceBusMessage("scheduled"), at)
        check(seqs and seqs[0] > 0, f"sequence numbers {seqs}")
    with client.get_queue_receiver(f"{P}-sched") as r:
        got = receive_n(r, 1, 10)
        check(got, "scheduled message did not arrive")
        eq(text(got[0]), "scheduled", "body")
        check(now() >= at - datetime.timedelta(milliseconds=500), "arrived before its time")
        r.complete_message(got[0])


@scenario("schedule.cancel")
def _():
    with client.get_queue_sender(f"{P}-sched") as sender:
        seqs = sender.schedule_messages(ServiceBusMessage("cancelled"), now() + datetime.timedelta(seconds=60))
        check(seqs, "no sequence number")
        sender.cancel_scheduled_messages(seqs)
    with client.get_queue_receiver(f"{P}-sched") as r:
        peeked = r.peek_messages(max_message_count=10, sequence_number=seqs[0])
        check(not any(m.sequence_number == seqs[0] for m in peeked), "cancelled message still there")


@scenario("peek")
def _():
    with client.get_queue_sender(f"{P}-peek") as sender:
        sender.send_messages([ServiceBusMessage("p1"), ServiceBusMessage("p2")])
    with client.get_queue_receiver(f"{P}-peek") as r:
        peeked = r.peek_messages(max_message_count=2)
        eq(",".join(text(m) for m in peeked), "p1,p2", "peeked bodies")
        got = receive_n(r, 2)
        eq(",".join(text(m) for m in got), "p1,p2", "received bodies")
        eq(got[0].delivery_count, peeked[0].delivery_count, "delivery count (peek must not count)")
        for m in got:
            r.complete_message(m)


session = client.get_queue_receiver(f"{P}-sq", session_id="conf-a")
session_open = False


@scenario("session.fifo")
def _():
    global session_open
    with client.get_queue_sender(f"{P}-sq") as sender:
        for b in ["s1", "s2", "s3"]:
            sender.send_messages(ServiceBusMessage(b, session_id="conf-a"))
    session.__enter__()
    session_open = True
    got = receive_n(session, 3)
    eq(",".join(text(m) for m in got), "s1,s2,s3", "bodies in order")
    eq(got[0].session_id, "conf-a", "session id")
    for m in got:
        session.complete_message(m)


@scenario("session.state")
def _():
    check(session_open, "no session")
    session.session.set_state("state-1")
    eq(s(session.session.get_state()), "state-1", "state")


@scenario("session.renew-lock")
def _():
    check(session_open, "no session")
    before = session.session.locked_until_utc
    after = session.session.renew_lock()
    check(before is None or after >= before, f"renewed {after} earlier than {before}")
    check(after > now(), "session lock not in the future")


if session_open:
    session.__exit__(None, None, None)


@scenario("session.accept-next")
def _():
    with client.get_queue_sender(f"{P}-nsq") as sender:
        sender.send_messages(ServiceBusMessage("next", session_id="conf-next"))
    with client.get_queue_receiver(f"{P}-nsq", session_id=NEXT_AVAILABLE_SESSION) as r:
        got = receive_n(r, 1)
        eq(r.session.session_id, "conf-next", "session id")
        check(got, "no message")
        eq(text(got[0]), "next", "body")
        r.complete_message(got[0])


@scenario("session.list")
def _():
    raise Skip("azure-servicebus 7.15.0 has no list-sessions API")


@scenario("topic.all")
def _():
    with client.get_topic_sender(topic_name=f"{P}-t") as sender:
        sender.send_messages(
            [ServiceBusMessage("t-a", correlation_id="route-a"), ServiceBusMessage("t-other", correlation_id="route-b")]
        )
    with client.get_subscription_receiver(topic_name=f"{P}-t", subscription_name="all") as r:
        got = receive_n(r, 2)
        eq(",".join(text(m) for m in got), "t-a,t-other", "bodies")
        for m in got:
            r.complete_message(m)


@scenario("topic.correlation")
def _():
    with client.get_subscription_receiver(topic_name=f"{P}-t", subscription_name="corr") as r:
        got = receive_n(r, 2, 3)
        eq(",".join(text(m) for m in got), "t-a", "bodies")
        for m in got:
            r.complete_message(m)


@scenario("receive-and-delete")
def _():
    with client.get_queue_sender(f"{P}-rad") as sender:
        sender.send_messages(ServiceBusMessage("rad"))
    with client.get_queue_receiver(f"{P}-rad", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as r:
        got = receive_n(r, 1)
        check(got, "no message")
        eq(text(got[0]), "rad", "body")
        eq(len(r.peek_messages(max_message_count=10)), 0, "messages left")


@scenario("duplicate-detection")
def _():
    with client.get_queue_sender(f"{P}-dup") as sender:
        sender.send_messages(ServiceBusMessage("d1", message_id="dup-1"))
        sender.send_messages(ServiceBusMessage("d1-again", message_id="dup-1"))
        sender.send_messages(ServiceBusMessage("d2", message_id="dup-2"))
    with client.get_queue_receiver(f"{P}-dup") as r:
        got = receive_n(r, 3, 3)
        eq(",".join(text(m) for m in got), "d1,d2", "bodies")
        for m in got:
            r.complete_message(m)


@scenario("cross.receive")
def _():
    with client.get_queue_receiver(f"{P}-in") as r:
        got = receive_n(r, 1)
        check(got, "no message (the runner sends one before starting the client)")
        m = got[0]
        eq(text(m), "from-js", "body")
        eq(m.message_id, "conf-in-1", "message id")
        eq(m.content_type, "text/plain", "content type")
        eq(m.correlation_id, "conf-corr-in", "correlation id")
        eq(m.subject, "conf-subject", "subject")
        eq(props(m).get("origin"), "js", "application property origin")
        eq(props(m).get("n"), 42, "application property n")
        eq(props(m).get("flag"), True, "application property flag")
        r.complete_message(m)


@scenario("cross.send")
def _():
    with client.get_queue_sender(f"{P}-out") as sender:
        sender.send_messages(
            ServiceBusMessage(
                f"from-{LANG}",
                message_id=f"conf-out-{LANG}",
                content_type="text/plain",
                correlation_id="conf-corr-out",
                subject="conf-subject",
                application_properties={"origin": LANG, "n": 7},
            )
        )


try:
    client.close()
except Exception:  # noqa: BLE001
    pass
print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped", flush=True)
