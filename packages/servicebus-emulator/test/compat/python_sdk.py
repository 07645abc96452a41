"""Drives the Sluice emulator with the Python azure-servicebus SDK; prints one JSON line of findings."""
import datetime
import json
import sys

from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue

out = {}
with ServiceBusClient.from_connection_string(sys.argv[1]) as client:
    with client.get_queue_sender("q") as sender:
        sender.send_messages(ServiceBusMessage("hello", message_id="m1", application_properties={"a": 1}))
        batch = sender.create_message_batch()
        out["maxBatch"] = batch.max_size_in_bytes
        for i in range(3):
            batch.add_message(ServiceBusMessage(f"b{i}"))
        sender.send_messages(batch)
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=60)
        seqs = sender.schedule_messages(ServiceBusMessage("later"), when)
        sender.cancel_scheduled_messages(seqs)
    with client.get_queue_receiver("q", max_wait_time=2) as receiver:
        msgs = receiver.receive_messages(max_message_count=4, max_wait_time=2)
        out["received"] = [[str(m), m.sequence_number, m.delivery_count] for m in msgs]
        receiver.renew_message_lock(msgs[0])
        receiver.complete_message(msgs[0])
        receiver.abandon_message(msgs[1])
        receiver.dead_letter_message(msgs[2], reason="bad", error_description="desc")
        receiver.defer_message(msgs[3])
        deferred = receiver.receive_deferred_messages([msgs[3].sequence_number])
        out["deferred"] = [str(m) for m in deferred]
        receiver.complete_message(deferred[0])
        again = receiver.receive_messages(max_message_count=1, max_wait_time=2)
        out["again"] = [[str(m), m.delivery_count] for m in again]
        receiver.complete_message(again[0])
    with client.get_queue_receiver("q", sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=2) as receiver:
        dead = receiver.receive_messages(max_message_count=1, max_wait_time=2)
        out["dead"] = [[str(m), m.dead_letter_reason, m.dead_letter_error_description] for m in dead]
        receiver.complete_message(dead[0])
    with client.get_queue_sender("sq") as sender:
        sender.send_messages([ServiceBusMessage("s1", session_id="A"), ServiceBusMessage("s2", session_id="A")])
    with client.get_queue_receiver("sq", session_id="A", max_wait_time=2) as receiver:
        receiver.session.set_state("st")
        out["state"] = receiver.session.get_state().decode()
        receiver.session.renew_lock()
        got = receiver.receive_messages(max_message_count=2, max_wait_time=2)
        out["session"] = [str(m) for m in got]
        for m in got:
            receiver.complete_message(m)
print(json.dumps(out))
