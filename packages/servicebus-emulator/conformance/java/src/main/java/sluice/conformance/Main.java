package sluice.conformance;

import com.azure.core.amqp.AmqpRetryOptions;
import com.azure.core.util.BinaryData;
import com.azure.messaging.servicebus.ServiceBusClientBuilder;
import com.azure.messaging.servicebus.ServiceBusMessage;
import com.azure.messaging.servicebus.ServiceBusMessageBatch;
import com.azure.messaging.servicebus.ServiceBusReceivedMessage;
import com.azure.messaging.servicebus.ServiceBusReceiverClient;
import com.azure.messaging.servicebus.ServiceBusSenderClient;
import com.azure.messaging.servicebus.ServiceBusSessionReceiverClient;
import com.azure.messaging.servicebus.models.DeadLetterOptions;
import com.azure.messaging.servicebus.models.ServiceBusReceiveMode;
import com.azure.messaging.servicebus.models.SubQueue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * The Java column of the Sluice emulator conformance suite: azure-messaging-servicebus against the emulator.
 *
 * <p>usage: java -cp ... sluice.conformance.Main &lt;connection string&gt; [lang prefix, default java]. Prints one
 * line per scenario of conformance/scenarios.json, then "N passed, M failed, K skipped".
 */
public final class Main {
  private static int passed;
  private static int failed;
  private static int skipped;
  private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r);
    t.setDaemon(true);
    return t;
  });

  /** What an authorization failure says in each SDK's error (the emulator's description is InvalidSignature). */
  private static final java.util.regex.Pattern AUTH_ERROR =
      java.util.regex.Pattern.compile("401|unauthori[sz]ed|InvalidSignature|authenticat", java.util.regex.Pattern.CASE_INSENSITIVE);

  private static String conn;
  private static String lang = "java";
  private static String p;

  interface Body {
    void run() throws Exception;
  }

  static final class Skip extends RuntimeException {
    Skip(String m) {
      super(m);
    }
  }

  static void scenario(String id, Body body) {
    Future<?> f = POOL.submit(() -> {
      body.run();
      return null;
    });
    try {
      f.get(45, TimeUnit.SECONDS);
      System.out.println("PASS " + id);
      passed++;
    } catch (Throwable e) {
      Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      if (cause instanceof TimeoutException) {
        f.cancel(true);
        cause = new RuntimeException("timed out after 45 s");
      }
      if (cause instanceof Skip) {
        System.out.println("SKIP " + id + ": " + cause.getMessage());
        skipped++;
        return;
      }
      String reason = (cause.getClass().getSimpleName() + ": " + cause.getMessage()).replace('\n', ' ');
      if (reason.length() > 300) reason = reason.substring(0, 300);
      System.out.println("FAIL " + id + ": " + reason);
      failed++;
    }
    System.out.flush();
  }

  static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }

  static void eq(Object actual, Object expected, String what) {
    check(Objects.equals(actual, expected), what + ": expected " + expected + ", got " + actual);
  }

  static Object num(Object v) {
    return v instanceof Number n ? (Object) n.longValue() : v;
  }

  static String text(ServiceBusReceivedMessage m) {
    BinaryData b = m.getBody();
    return b == null ? null : new String(b.toBytes(), StandardCharsets.UTF_8);
  }

  static String bodies(List<ServiceBusReceivedMessage> ms) {
    return ms.stream().map(Main::text).collect(Collectors.joining(","));
  }

  static ServiceBusMessage msg(String body) {
    return new ServiceBusMessage(BinaryData.fromBytes(body.getBytes(StandardCharsets.UTF_8)));
  }

  static ServiceBusClientBuilder builder(String connectionString, int retries) {
    return new ServiceBusClientBuilder()
        .connectionString(connectionString)
        .retryOptions(new AmqpRetryOptions().setMaxRetries(retries).setTryTimeout(Duration.ofSeconds(10))
            .setDelay(Duration.ofMillis(200)));
  }

  static ServiceBusClientBuilder builder() {
    return builder(conn, 1);
  }

  static ServiceBusSenderClient sender(String entity) {
    return builder().sender().queueName(entity).buildClient();
  }

  static ServiceBusReceiverClient receiver(String entity) {
    return builder().receiver().queueName(entity).receiveMode(ServiceBusReceiveMode.PEEK_LOCK).buildClient();
  }

  static void send(String entity, ServiceBusMessage... ms) {
    try (ServiceBusSenderClient s = sender(entity)) {
      for (ServiceBusMessage m : ms) s.sendMessage(m);
    }
  }

  static List<ServiceBusReceivedMessage> receiveN(ServiceBusReceiverClient r, int n, Duration wait) {
    List<ServiceBusReceivedMessage> out = new ArrayList<>();
    long deadline = System.nanoTime() + wait.toNanos();
    while (out.size() < n && System.nanoTime() < deadline) {
      Duration left = Duration.ofNanos(Math.max(500_000_000L, deadline - System.nanoTime()));
      r.receiveMessages(n - out.size(), left).forEach(out::add);
    }
    return out;
  }

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: Main <connection string> [lang]");
      System.exit(2);
    }
    conn = args[0];
    if (args.length > 1) lang = args[1];
    p = "conf-" + lang;
    run();
    System.out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
    System.out.flush();
    System.exit(0);
  }

  private static ServiceBusReceiverClient rcv;
  private static final List<ServiceBusReceivedMessage> got = new ArrayList<>();
  private static ServiceBusReceiverClient session;

  static void need(int i) {
    check(got.size() > i, "message " + i + " was not received");
  }

  static void run() {
    scenario("auth.sas", () -> {
      send(p + "-auth", msg("auth"));
      try (ServiceBusReceiverClient r = receiver(p + "-auth")) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        check(!ms.isEmpty(), "no message received");
        eq(text(ms.get(0)), "auth", "body");
        r.complete(ms.get(0));
      }
    });
    scenario("auth.wrong-key", () -> {
      String wrong = conn.replaceAll("SharedAccessKey=[^;]*", "SharedAccessKey=wrong");
      Throwable refused = null;
      try (ServiceBusSenderClient s = builder(wrong, 0).sender().queueName(p + "-auth").buildClient()) {
        s.sendMessage(msg("must not arrive"));
      } catch (RuntimeException e) {
        refused = e;
      }
      check(refused != null, "send with a wrong key succeeded");
      StringBuilder why = new StringBuilder();
      for (Throwable t = refused; t != null; t = t.getCause()) why.append(t).append(' ');
      check(AUTH_ERROR.matcher(why).find(), "refused, but not for authorization: " + why);
    });

    String q = p + "-q";
    scenario("send.single", () -> {
      ServiceBusMessage m = msg("hello").setMessageId("conf-m1").setContentType("text/plain")
          .setCorrelationId("conf-corr-1").setSubject("conf-subject");
      m.getApplicationProperties().put("s", "v");
      m.getApplicationProperties().put("n", 5L);
      send(q, m);
    });
    scenario("send.batch", () -> {
      try (ServiceBusSenderClient s = sender(q)) {
        ServiceBusMessageBatch batch = s.createMessageBatch();
        for (String b : List.of("b0", "b1", "b2")) check(batch.tryAddMessage(msg(b)), "batch refused " + b);
        s.sendMessages(batch);
      }
    });
    scenario("receive.peek-lock", () -> {
      rcv = receiver(q);
      got.addAll(receiveN(rcv, 4, Duration.ofSeconds(5)));
      eq(bodies(got), "hello,b0,b1,b2", "bodies");
      ServiceBusReceivedMessage m = got.get(0);
      eq(m.getMessageId(), "conf-m1", "message id");
      eq(m.getContentType(), "text/plain", "content type");
      eq(m.getCorrelationId(), "conf-corr-1", "correlation id");
      eq(m.getSubject(), "conf-subject", "subject");
      eq(m.getApplicationProperties().get("s"), "v", "application property s");
      eq(num(m.getApplicationProperties().get("n")), 5L, "application property n");
      long prev = 0;
      for (ServiceBusReceivedMessage x : got) {
        check(x.getSequenceNumber() > prev, "sequence numbers not increasing");
        prev = x.getSequenceNumber();
      }
      OffsetDateTime enq = m.getEnqueuedTime();
      check(enq != null && Math.abs(Duration.between(enq, OffsetDateTime.now()).toSeconds()) < 120,
          "enqueued time " + enq + " not near now");
      check(m.getLockedUntil() != null && m.getLockedUntil().isAfter(OffsetDateTime.now()),
          "locked-until " + m.getLockedUntil());
    });
    scenario("lock.renew", () -> {
      need(0);
      OffsetDateTime before = got.get(0).getLockedUntil();
      OffsetDateTime after = rcv.renewMessageLock(got.get(0));
      check(after != null && !after.isBefore(before), "renewed locked-until " + after + " earlier than " + before);
    });
    scenario("settle.complete", () -> {
      need(0);
      rcv.complete(got.get(0));
    });
    scenario("settle.abandon", () -> {
      need(1);
      long before = got.get(1).getDeliveryCount();
      rcv.abandon(got.get(1));
      List<ServiceBusReceivedMessage> again = receiveN(rcv, 1, Duration.ofSeconds(5));
      check(!again.isEmpty(), "abandoned message not delivered again");
      eq(text(again.get(0)), "b0", "redelivered body");
      eq(again.get(0).getDeliveryCount(), before + 1, "delivery count");
      rcv.complete(again.get(0));
    });
    scenario("settle.dead-letter", () -> {
      need(2);
      rcv.deadLetter(got.get(2),
          new DeadLetterOptions().setDeadLetterReason("conf-reason").setDeadLetterErrorDescription("conf-desc"));
      if (got.size() > 3) rcv.complete(got.get(3));
    });
    if (rcv != null) rcv.close();
    scenario("dlq.receive", () -> {
      try (ServiceBusReceiverClient r = builder().receiver().queueName(q).subQueue(SubQueue.DEAD_LETTER_QUEUE)
          .buildClient()) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        check(!ms.isEmpty(), "nothing in the dead-letter queue");
        ServiceBusReceivedMessage m = ms.get(0);
        eq(text(m), "b1", "body");
        eq(m.getDeadLetterReason(), "conf-reason", "dead-letter reason");
        eq(m.getDeadLetterErrorDescription(), "conf-desc", "dead-letter description");
        r.complete(m);
      }
    });

    scenario("defer", () -> {
      send(p + "-defer", msg("deferred"));
      try (ServiceBusReceiverClient r = receiver(p + "-defer")) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        check(!ms.isEmpty(), "no message");
        long seq = ms.get(0).getSequenceNumber();
        r.defer(ms.get(0));
        ServiceBusReceivedMessage d = r.receiveDeferredMessage(seq);
        check(d != null, "deferred message not returned");
        eq(text(d), "deferred", "deferred body");
        r.complete(d);
        List<ServiceBusReceivedMessage> left = new ArrayList<>();
        r.peekMessages(10, seq).forEach(left::add);
        eq(left.size(), 0, "messages left");
      }
    });

    scenario("schedule", () -> {
      OffsetDateTime at = OffsetDateTime.now().plusSeconds(2);
      try (ServiceBusSenderClient s = sender(p + "-sched")) {
        Long seq = s.scheduleMessage(msg("scheduled"), at);
        check(seq != null && seq > 0, "sequence number " + seq);
      }
      try (ServiceBusReceiverClient r = receiver(p + "-sched")) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(10));
        check(!ms.isEmpty(), "scheduled message did not arrive");
        eq(text(ms.get(0)), "scheduled", "body");
        check(!OffsetDateTime.now().isBefore(at.minusNanos(500_000_000L)), "arrived before its time");
        r.complete(ms.get(0));
      }
    });
    scenario("schedule.cancel", () -> {
      long seq;
      try (ServiceBusSenderClient s = sender(p + "-sched")) {
        seq = s.scheduleMessage(msg("cancelled"), OffsetDateTime.now().plusSeconds(60));
        s.cancelScheduledMessage(seq);
      }
      try (ServiceBusReceiverClient r = receiver(p + "-sched")) {
        for (ServiceBusReceivedMessage m : r.peekMessages(10, seq))
          check(m.getSequenceNumber() != seq, "cancelled message still there");
      }
    });

    scenario("peek", () -> {
      send(p + "-peek", msg("p1"), msg("p2"));
      try (ServiceBusReceiverClient r = receiver(p + "-peek")) {
        List<ServiceBusReceivedMessage> peeked = new ArrayList<>();
        r.peekMessages(2).forEach(peeked::add);
        eq(bodies(peeked), "p1,p2", "peeked bodies");
        List<ServiceBusReceivedMessage> ms = receiveN(r, 2, Duration.ofSeconds(5));
        eq(bodies(ms), "p1,p2", "received bodies");
        eq(ms.get(0).getDeliveryCount(), peeked.get(0).getDeliveryCount(), "delivery count (peek must not count)");
        for (ServiceBusReceivedMessage m : ms) r.complete(m);
      }
    });

    ServiceBusSessionReceiverClient sessions = builder().sessionReceiver().queueName(p + "-sq").buildClient();
    scenario("session.fifo", () -> {
      for (String b : List.of("s1", "s2", "s3")) send(p + "-sq", msg(b).setSessionId("conf-a"));
      session = sessions.acceptSession("conf-a");
      List<ServiceBusReceivedMessage> ms = receiveN(session, 3, Duration.ofSeconds(5));
      eq(bodies(ms), "s1,s2,s3", "bodies in order");
      eq(ms.get(0).getSessionId(), "conf-a", "session id");
      for (ServiceBusReceivedMessage m : ms) session.complete(m);
    });
    scenario("session.state", () -> {
      check(session != null, "no session");
      session.setSessionState("state-1".getBytes(StandardCharsets.UTF_8));
      byte[] state = session.getSessionState();
      eq(state == null ? null : new String(state, StandardCharsets.UTF_8), "state-1", "state");
    });
    scenario("session.renew-lock", () -> {
      check(session != null, "no session");
      OffsetDateTime after = session.renewSessionLock();
      check(after != null && after.isAfter(OffsetDateTime.now()), "renewed session lock " + after);
    });
    if (session != null) session.close();
    sessions.close();
    scenario("session.accept-next", () -> {
      send(p + "-nsq", msg("next").setSessionId("conf-next"));
      try (ServiceBusSessionReceiverClient next = builder().sessionReceiver().queueName(p + "-nsq").buildClient();
          ServiceBusReceiverClient r = next.acceptNextSession()) {
        eq(r.getSessionId(), "conf-next", "session id");
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        check(!ms.isEmpty(), "no message");
        eq(text(ms.get(0)), "next", "body");
        r.complete(ms.get(0));
      }
    });
    scenario("session.list", () -> {
      throw new Skip("azure-messaging-servicebus 7.17.17 has no list-sessions API");
    });

    scenario("topic.all", () -> {
      try (ServiceBusSenderClient s = builder().sender().topicName(p + "-t").buildClient()) {
        s.sendMessage(msg("t-a").setCorrelationId("route-a"));
        s.sendMessage(msg("t-other").setCorrelationId("route-b"));
      }
      try (ServiceBusReceiverClient r = builder().receiver().topicName(p + "-t").subscriptionName("all")
          .buildClient()) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 2, Duration.ofSeconds(5));
        eq(bodies(ms), "t-a,t-other", "bodies");
        for (ServiceBusReceivedMessage m : ms) r.complete(m);
      }
    });
    scenario("topic.correlation", () -> {
      try (ServiceBusReceiverClient r = builder().receiver().topicName(p + "-t").subscriptionName("corr")
          .buildClient()) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 2, Duration.ofSeconds(3));
        eq(bodies(ms), "t-a", "bodies");
        for (ServiceBusReceivedMessage m : ms) r.complete(m);
      }
    });

    scenario("receive-and-delete", () -> {
      send(p + "-rad", msg("rad"));
      try (ServiceBusReceiverClient r = builder().receiver().queueName(p + "-rad")
          .receiveMode(ServiceBusReceiveMode.RECEIVE_AND_DELETE).buildClient()) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        eq(bodies(ms), "rad", "body");
        List<ServiceBusReceivedMessage> left = new ArrayList<>();
        r.peekMessages(10).forEach(left::add);
        eq(left.size(), 0, "messages left");
      }
    });

    scenario("duplicate-detection", () -> {
      send(p + "-dup", msg("d1").setMessageId("dup-1"), msg("d1-again").setMessageId("dup-1"),
          msg("d2").setMessageId("dup-2"));
      try (ServiceBusReceiverClient r = receiver(p + "-dup")) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 3, Duration.ofSeconds(3));
        eq(bodies(ms), "d1,d2", "bodies");
        for (ServiceBusReceivedMessage m : ms) r.complete(m);
      }
    });

    scenario("cross.receive", () -> {
      try (ServiceBusReceiverClient r = receiver(p + "-in")) {
        List<ServiceBusReceivedMessage> ms = receiveN(r, 1, Duration.ofSeconds(5));
        check(!ms.isEmpty(), "no message (the runner sends one before starting the client)");
        ServiceBusReceivedMessage m = ms.get(0);
        eq(text(m), "from-js", "body");
        eq(m.getMessageId(), "conf-in-1", "message id");
        eq(m.getContentType(), "text/plain", "content type");
        eq(m.getCorrelationId(), "conf-corr-in", "correlation id");
        eq(m.getSubject(), "conf-subject", "subject");
        eq(m.getApplicationProperties().get("origin"), "js", "application property origin");
        eq(num(m.getApplicationProperties().get("n")), 42L, "application property n");
        eq(m.getApplicationProperties().get("flag"), true, "application property flag");
        r.complete(m);
      }
    });
    scenario("cross.send", () -> {
      ServiceBusMessage m = msg("from-" + lang).setMessageId("conf-out-" + lang).setContentType("text/plain")
          .setCorrelationId("conf-corr-out").setSubject("conf-subject");
      m.getApplicationProperties().put("origin", lang);
      m.getApplicationProperties().put("n", 7L);
      send(p + "-out", m);
    });
  }
}
