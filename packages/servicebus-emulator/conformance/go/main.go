// The Go column of the Sluice emulator conformance suite: azservicebus against the emulator.
//
// usage: conformance <connection string> [lang prefix, default go]
// Prints one line per scenario of conformance/scenarios.json, then "N passed, M failed, K skipped".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

var (
	passed, failed, skipped int
	conn                    string
	lang                    = "go"
	p                       string
)

// authError is what an authorization failure says (the emulator's description is InvalidSignature).
var authError = regexp.MustCompile(`(?i)401|unauthori[sz]ed|InvalidSignature|authenticat`)

type skip string

func (s skip) Error() string { return string(s) }

func scenario(id string, body func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return body(ctx)
	}()
	var s skip
	switch {
	case err == nil:
		fmt.Printf("PASS %s\n", id)
		passed++
	case errors.As(err, &s):
		fmt.Printf("SKIP %s: %s\n", id, s)
		skipped++
	default:
		reason := strings.ReplaceAll(err.Error(), "\n", " ")
		if len(reason) > 300 {
			reason = reason[:300]
		}
		fmt.Printf("FAIL %s: %s\n", id, reason)
		failed++
	}
}

func eq(actual, expected any, what string) error {
	if !reflect.DeepEqual(actual, expected) {
		return fmt.Errorf("%s: expected %#v, got %#v", what, expected, actual)
	}
	return nil
}

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func num(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	return v
}

func bodies(ms []*azservicebus.ReceivedMessage) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return strings.Join(out, ",")
}

type receiver interface {
	ReceiveMessages(ctx context.Context, max int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}

// receiveN receives until n messages or the wait is over (never blocks past the scenario's context).
func receiveN(ctx context.Context, r receiver, n int, wait time.Duration) ([]*azservicebus.ReceivedMessage, error) {
	var out []*azservicebus.ReceivedMessage
	deadline := time.Now().Add(wait)
	for len(out) < n && time.Now().Before(deadline) {
		c, cancel := context.WithDeadline(ctx, deadline)
		got, err := r.ReceiveMessages(c, n-len(out), nil)
		cancel()
		out = append(out, got...)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				break
			}
			return out, err
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance <connection string> [lang]")
		os.Exit(2)
	}
	conn = os.Args[1]
	if len(os.Args) > 2 {
		lang = os.Args[2]
	}
	p = "conf-" + lang
	opts := &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 200 * time.Millisecond}}
	client, err := azservicebus.NewClientFromConnectionString(conn, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	run(client)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = client.Close(ctx)
	cancel()
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
}

func send(ctx context.Context, client *azservicebus.Client, entity string, msgs ...*azservicebus.Message) error {
	s, err := client.NewSender(entity, nil)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	for _, m := range msgs {
		if err := s.SendMessage(ctx, m, nil); err != nil {
			return err
		}
	}
	return nil
}

func completeAll(ctx context.Context, r interface {
	CompleteMessage(context.Context, *azservicebus.ReceivedMessage, *azservicebus.CompleteMessageOptions) error
}, ms []*azservicebus.ReceivedMessage) error {
	for _, m := range ms {
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			return err
		}
	}
	return nil
}

func run(client *azservicebus.Client) {
	scenario("auth.sas", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-auth", &azservicebus.Message{Body: []byte("auth")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-auth", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("no message received")
		}
		if err := eq(string(got[0].Body), "auth", "body"); err != nil {
			return err
		}
		return r.CompleteMessage(ctx, got[0], nil)
	})

	scenario("auth.wrong-key", func(ctx context.Context) error {
		wrong := regexp.MustCompile(`SharedAccessKey=[^;]*`).ReplaceAllString(conn, "SharedAccessKey=wrong")
		bad, err := azservicebus.NewClientFromConnectionString(wrong, &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: -1}})
		if err != nil {
			return nil // refused up front
		}
		defer bad.Close(context.Background())
		c, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		err = send(c, bad, p+"-auth", &azservicebus.Message{Body: []byte("must not arrive")})
		if err == nil {
			return errors.New("send with a wrong key succeeded")
		}
		var sbErr *azservicebus.Error
		if (errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeUnauthorizedAccess) || authError.MatchString(err.Error()) {
			return nil
		}
		return fmt.Errorf("refused, but not for authorization: %v", err)
	})

	q := p + "-q"
	scenario("send.single", func(ctx context.Context) error {
		return send(ctx, client, q, &azservicebus.Message{
			Body:                  []byte("hello"),
			MessageID:             ptr("conf-m1"),
			ContentType:           ptr("text/plain"),
			CorrelationID:         ptr("conf-corr-1"),
			Subject:               ptr("conf-subject"),
			ApplicationProperties: map[string]any{"s": "v", "n": int64(5)},
		})
	})
	scenario("send.batch", func(ctx context.Context) error {
		s, err := client.NewSender(q, nil)
		if err != nil {
			return err
		}
		defer s.Close(context.Background())
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			return err
		}
		for _, b := range []string{"b0", "b1", "b2"} {
			if err := batch.AddMessage(&azservicebus.Message{Body: []byte(b)}, nil); err != nil {
				return err
			}
		}
		return s.SendMessageBatch(ctx, batch, nil)
	})

	rcv, rerr := client.NewReceiverForQueue(q, nil)
	var got []*azservicebus.ReceivedMessage
	need := func(i int) error {
		if rerr != nil {
			return rerr
		}
		if len(got) <= i {
			return fmt.Errorf("message %d was not received", i)
		}
		return nil
	}
	scenario("receive.peek-lock", func(ctx context.Context) error {
		if rerr != nil {
			return rerr
		}
		var err error
		got, err = receiveN(ctx, rcv, 4, 5*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "hello,b0,b1,b2", "bodies"); err != nil {
			return err
		}
		m := got[0]
		for _, e := range []error{
			eq(m.MessageID, "conf-m1", "message id"),
			eq(str(m.ContentType), "text/plain", "content type"),
			eq(str(m.CorrelationID), "conf-corr-1", "correlation id"),
			eq(str(m.Subject), "conf-subject", "subject"),
			eq(m.ApplicationProperties["s"], "v", "application property s"),
			eq(num(m.ApplicationProperties["n"]), int64(5), "application property n"),
		} {
			if e != nil {
				return e
			}
		}
		var seqs []int64
		for _, x := range got {
			if x.SequenceNumber == nil {
				return errors.New("no sequence number")
			}
			seqs = append(seqs, *x.SequenceNumber)
		}
		if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) || seqs[0] <= 0 {
			return fmt.Errorf("sequence numbers not increasing: %v", seqs)
		}
		if m.EnqueuedTime == nil || time.Since(*m.EnqueuedTime).Abs() > 2*time.Minute {
			return fmt.Errorf("enqueued time %v not near now", m.EnqueuedTime)
		}
		if m.LockedUntil == nil || !m.LockedUntil.After(time.Now()) {
			return fmt.Errorf("locked-until %v", m.LockedUntil)
		}
		return nil
	})
	scenario("lock.renew", func(ctx context.Context) error {
		if err := need(0); err != nil {
			return err
		}
		before := *got[0].LockedUntil
		if err := rcv.RenewMessageLock(ctx, got[0], nil); err != nil {
			return err
		}
		if got[0].LockedUntil.Before(before) {
			return fmt.Errorf("renewed locked-until %v earlier than %v", got[0].LockedUntil, before)
		}
		return nil
	})
	scenario("settle.complete", func(ctx context.Context) error {
		if err := need(0); err != nil {
			return err
		}
		return rcv.CompleteMessage(ctx, got[0], nil)
	})
	scenario("settle.abandon", func(ctx context.Context) error {
		if err := need(1); err != nil {
			return err
		}
		before := got[1].DeliveryCount
		if err := rcv.AbandonMessage(ctx, got[1], nil); err != nil {
			return err
		}
		again, err := receiveN(ctx, rcv, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(again) == 0 {
			return errors.New("abandoned message not delivered again")
		}
		if err := eq(string(again[0].Body), "b0", "redelivered body"); err != nil {
			return err
		}
		if err := eq(again[0].DeliveryCount, before+1, "delivery count"); err != nil {
			return err
		}
		return rcv.CompleteMessage(ctx, again[0], nil)
	})
	scenario("settle.dead-letter", func(ctx context.Context) error {
		if err := need(2); err != nil {
			return err
		}
		if err := rcv.DeadLetterMessage(ctx, got[2], &azservicebus.DeadLetterOptions{Reason: ptr("conf-reason"), ErrorDescription: ptr("conf-desc")}); err != nil {
			return err
		}
		if len(got) > 3 {
			return rcv.CompleteMessage(ctx, got[3], nil)
		}
		return nil
	})
	if rcv != nil {
		_ = rcv.Close(context.Background())
	}
	scenario("dlq.receive", func(ctx context.Context) error {
		r, err := client.NewReceiverForQueue(q, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("nothing in the dead-letter queue")
		}
		m := got[0]
		for _, e := range []error{
			eq(string(m.Body), "b1", "body"),
			eq(str(m.DeadLetterReason), "conf-reason", "dead-letter reason"),
			eq(str(m.DeadLetterErrorDescription), "conf-desc", "dead-letter description"),
		} {
			if e != nil {
				return e
			}
		}
		return r.CompleteMessage(ctx, m, nil)
	})

	scenario("defer", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-defer", &azservicebus.Message{Body: []byte("deferred")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-defer", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("no message")
		}
		if err := r.DeferMessage(ctx, got[0], nil); err != nil {
			return err
		}
		deferred, err := r.ReceiveDeferredMessages(ctx, []int64{*got[0].SequenceNumber}, nil)
		if err != nil {
			return err
		}
		if len(deferred) == 0 {
			return errors.New("deferred message not returned")
		}
		if err := eq(string(deferred[0].Body), "deferred", "deferred body"); err != nil {
			return err
		}
		if err := r.CompleteMessage(ctx, deferred[0], nil); err != nil {
			return fmt.Errorf("complete the deferred message: %w", err)
		}
		left, err := r.PeekMessages(ctx, 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: got[0].SequenceNumber})
		if err != nil {
			return err
		}
		return eq(len(left), 0, "messages left")
	})

	scenario("schedule", func(ctx context.Context) error {
		s, err := client.NewSender(p+"-sched", nil)
		if err != nil {
			return err
		}
		defer s.Close(context.Background())
		at := time.Now().Add(2 * time.Second)
		seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{Body: []byte("scheduled")}}, at, nil)
		if err != nil {
			return err
		}
		if len(seqs) != 1 || seqs[0] <= 0 {
			return fmt.Errorf("sequence numbers %v", seqs)
		}
		r, err := client.NewReceiverForQueue(p+"-sched", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 10*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("scheduled message did not arrive")
		}
		if err := eq(string(got[0].Body), "scheduled", "body"); err != nil {
			return err
		}
		if time.Now().Before(at.Add(-500 * time.Millisecond)) {
			return errors.New("arrived before its time")
		}
		return r.CompleteMessage(ctx, got[0], nil)
	})
	scenario("schedule.cancel", func(ctx context.Context) error {
		s, err := client.NewSender(p+"-sched", nil)
		if err != nil {
			return err
		}
		defer s.Close(context.Background())
		seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{Body: []byte("cancelled")}}, time.Now().Add(time.Minute), nil)
		if err != nil {
			return err
		}
		if len(seqs) == 0 {
			return errors.New("no sequence number")
		}
		if err := s.CancelScheduledMessages(ctx, seqs, nil); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-sched", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		peeked, err := r.PeekMessages(ctx, 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &seqs[0]})
		if err != nil {
			return err
		}
		for _, m := range peeked {
			if *m.SequenceNumber == seqs[0] {
				return errors.New("cancelled message still there")
			}
		}
		return nil
	})

	scenario("peek", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-peek", &azservicebus.Message{Body: []byte("p1")}, &azservicebus.Message{Body: []byte("p2")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-peek", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		peeked, err := r.PeekMessages(ctx, 2, nil)
		if err != nil {
			return err
		}
		if err := eq(bodies(peeked), "p1,p2", "peeked bodies"); err != nil {
			return err
		}
		got, err := receiveN(ctx, r, 2, 5*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "p1,p2", "received bodies"); err != nil {
			return err
		}
		if err := eq(got[0].DeliveryCount, peeked[0].DeliveryCount, "delivery count (peek must not count)"); err != nil {
			return err
		}
		return completeAll(ctx, r, got)
	})

	var session *azservicebus.SessionReceiver
	scenario("session.fifo", func(ctx context.Context) error {
		for _, b := range []string{"s1", "s2", "s3"} {
			if err := send(ctx, client, p+"-sq", &azservicebus.Message{Body: []byte(b), SessionID: ptr("conf-a")}); err != nil {
				return err
			}
		}
		var err error
		session, err = client.AcceptSessionForQueue(ctx, p+"-sq", "conf-a", nil)
		if err != nil {
			return err
		}
		got, err := receiveN(ctx, session, 3, 5*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "s1,s2,s3", "bodies in order"); err != nil {
			return err
		}
		if err := eq(str(got[0].SessionID), "conf-a", "session id"); err != nil {
			return err
		}
		return completeAll(ctx, session, got)
	})
	scenario("session.state", func(ctx context.Context) error {
		if session == nil {
			return errors.New("no session")
		}
		if err := session.SetSessionState(ctx, []byte("state-1"), nil); err != nil {
			return err
		}
		state, err := session.GetSessionState(ctx, nil)
		if err != nil {
			return err
		}
		return eq(string(state), "state-1", "state")
	})
	scenario("session.renew-lock", func(ctx context.Context) error {
		if session == nil {
			return errors.New("no session")
		}
		before := session.LockedUntil()
		if err := session.RenewSessionLock(ctx, nil); err != nil {
			return err
		}
		after := session.LockedUntil()
		if after.Before(before) || !after.After(time.Now()) {
			return fmt.Errorf("renewed session lock %v (before %v)", after, before)
		}
		return nil
	})
	if session != nil {
		_ = session.Close(context.Background())
	}
	scenario("session.accept-next", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-nsq", &azservicebus.Message{Body: []byte("next"), SessionID: ptr("conf-next")}); err != nil {
			return err
		}
		r, err := client.AcceptNextSessionForQueue(ctx, p+"-nsq", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		if err := eq(r.SessionID(), "conf-next", "session id"); err != nil {
			return err
		}
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("no message")
		}
		if err := eq(string(got[0].Body), "next", "body"); err != nil {
			return err
		}
		return r.CompleteMessage(ctx, got[0], nil)
	})
	scenario("session.list", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-sq", &azservicebus.Message{Body: []byte("listed"), SessionID: ptr("conf-listed")}); err != nil {
			return err
		}
		pager := client.NewListSessionsForQueuePager(p+"-sq", nil)
		var ids []string
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return err
			}
			ids = append(ids, page.Sessions...)
		}
		for _, id := range ids {
			if id == "conf-listed" {
				return nil
			}
		}
		return fmt.Errorf("sessions %v lack conf-listed (it holds a message)", ids)
	})

	scenario("topic.all", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-t",
			&azservicebus.Message{Body: []byte("t-a"), CorrelationID: ptr("route-a")},
			&azservicebus.Message{Body: []byte("t-other"), CorrelationID: ptr("route-b")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForSubscription(p+"-t", "all", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 2, 5*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "t-a,t-other", "bodies"); err != nil {
			return err
		}
		return completeAll(ctx, r, got)
	})
	scenario("topic.correlation", func(ctx context.Context) error {
		r, err := client.NewReceiverForSubscription(p+"-t", "corr", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 2, 3*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "t-a", "bodies"); err != nil {
			return err
		}
		return completeAll(ctx, r, got)
	})

	scenario("receive-and-delete", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-rad", &azservicebus.Message{Body: []byte("rad")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-rad", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "rad", "body"); err != nil {
			return err
		}
		left, err := r.PeekMessages(ctx, 10, nil)
		if err != nil {
			return err
		}
		return eq(len(left), 0, "messages left")
	})

	scenario("duplicate-detection", func(ctx context.Context) error {
		if err := send(ctx, client, p+"-dup",
			&azservicebus.Message{Body: []byte("d1"), MessageID: ptr("dup-1")},
			&azservicebus.Message{Body: []byte("d1-again"), MessageID: ptr("dup-1")},
			&azservicebus.Message{Body: []byte("d2"), MessageID: ptr("dup-2")}); err != nil {
			return err
		}
		r, err := client.NewReceiverForQueue(p+"-dup", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 3, 3*time.Second)
		if err != nil {
			return err
		}
		if err := eq(bodies(got), "d1,d2", "bodies"); err != nil {
			return err
		}
		return completeAll(ctx, r, got)
	})

	scenario("cross.receive", func(ctx context.Context) error {
		r, err := client.NewReceiverForQueue(p+"-in", nil)
		if err != nil {
			return err
		}
		defer r.Close(context.Background())
		got, err := receiveN(ctx, r, 1, 5*time.Second)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("no message (the runner sends one before starting the client)")
		}
		m := got[0]
		for _, e := range []error{
			eq(string(m.Body), "from-js", "body"),
			eq(m.MessageID, "conf-in-1", "message id"),
			eq(str(m.ContentType), "text/plain", "content type"),
			eq(str(m.CorrelationID), "conf-corr-in", "correlation id"),
			eq(str(m.Subject), "conf-subject", "subject"),
			eq(m.ApplicationProperties["origin"], "js", "application property origin"),
			eq(num(m.ApplicationProperties["n"]), int64(42), "application property n"),
			eq(m.ApplicationProperties["flag"], true, "application property flag"),
		} {
			if e != nil {
				return e
			}
		}
		return r.CompleteMessage(ctx, m, nil)
	})
	scenario("cross.send", func(ctx context.Context) error {
		return send(ctx, client, p+"-out", &azservicebus.Message{
			Body:                  []byte("from-" + lang),
			MessageID:             ptr("conf-out-" + lang),
			ContentType:           ptr("text/plain"),
			CorrelationID:         ptr("conf-corr-out"),
			Subject:               ptr("conf-subject"),
			ApplicationProperties: map[string]any{"origin": lang, "n": int64(7)},
		})
	})
}
