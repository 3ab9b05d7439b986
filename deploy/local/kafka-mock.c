/*
 * A Kafka-protocol broker for local runs and tests: librdkafka's mock cluster.
 * Usage: kafka-mock <brokers> <bootstrap-file> [<control-socket>]
 * Starts <brokers> in-memory brokers on 127.0.0.1, writes "host:port,host:port,..." to
 * <bootstrap-file> (atomically, via a temporary file), and serves until SIGTERM or SIGINT.
 * Everything is kept in memory: a restart starts an empty cluster.
 *
 * With <control-socket>, it also listens on that Unix socket (ready before the bootstrap file is
 * written) for one command per connection, one line, answered "ok" or "error <reason>":
 *   down <broker-id>                               drop the broker's connections, refuse new ones
 *   up <broker-id>                                 accept connections again
 *   topic <name> <partitions> <replication-factor> create a topic (else auto-created: 4 partitions,
 *                                                  replication factor min(3, brokers))
 *   leader <topic> <partition> <broker-id>         move a partition's leadership
 * The mock never moves leaders by itself: partitions led by a down broker wait for it (or `leader`).
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int listen_control(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path)) {
    fprintf(stderr, "control socket path too long (max %zu): %s\n", sizeof(addr.sun_path) - 1, path);
    return -1;
  }
  strcpy(addr.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0) {
    perror("control socket");
    return -1;
  }
  return fd;
}

/* Runs one command line; writes the answer (without newline) to reply. */
static void run_command(rd_kafka_mock_cluster_t *mc, char *line, char *reply, size_t size) {
  char verb[16], name[256];
  int a, b;
  rd_kafka_resp_err_t err;
  if (sscanf(line, "%15s %d", verb, &a) == 2 && strcmp(verb, "down") == 0) {
    err = rd_kafka_mock_broker_set_down(mc, a);
  } else if (sscanf(line, "%15s %d", verb, &a) == 2 && strcmp(verb, "up") == 0) {
    err = rd_kafka_mock_broker_set_up(mc, a);
  } else if (sscanf(line, "%15s %255s %d %d", verb, name, &a, &b) == 4 && strcmp(verb, "topic") == 0) {
    err = rd_kafka_mock_topic_create(mc, name, a, b);
  } else if (sscanf(line, "%15s %255s %d %d", verb, name, &a, &b) == 4 && strcmp(verb, "leader") == 0) {
    err = rd_kafka_mock_partition_set_leader(mc, name, a, b);
  } else {
    snprintf(reply, size, "error unknown command");
    return;
  }
  if (err) snprintf(reply, size, "error %s", rd_kafka_err2str(err));
  else snprintf(reply, size, "ok");
}

static void serve_control(rd_kafka_mock_cluster_t *mc, int listen_fd) {
  int fd = accept(listen_fd, NULL, NULL);
  if (fd < 0) return;
  /* A client that connects and says nothing must not stall the launcher. */
  struct timeval timeout = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char line[512];
  size_t len = 0;
  while (len < sizeof(line) - 1) {
    ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (memchr(line, '\n', len)) break;
  }
  line[len] = '\0';
  char reply[600];
  run_command(mc, line, reply, sizeof(reply));
  fprintf(stderr, "kafka-mock: %.*s -> %s\n", (int)strcspn(line, "\n"), line, reply);
  dprintf(fd, "%s\n", reply);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s <brokers> <bootstrap-file> [<control-socket>]\n", argv[0]);
    return 2;
  }
  int brokers = atoi(argv[1]);
  if (brokers < 1 || brokers > 9) {
    fprintf(stderr, "brokers must be 1..9\n");
    return 2;
  }
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* This client exists only to own the mock cluster; it never connects, so silence its warnings. */
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  int control = -1;
  if (argc == 4 && (control = listen_control(argv[3])) < 0) return 1;
  const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
    perror("writing bootstrap file");
    return 1;
  }
  fprintf(stderr, "kafka-mock: %d brokers at %s\n", brokers, bootstraps);
  /* No SA_RESTART: a signal must interrupt poll() so the loop sees `stop`. */
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  while (!stop) {
    if (control < 0) {
      pause();
      continue;
    }
    struct pollfd p = {.fd = control, .events = POLLIN};
    if (poll(&p, 1, 1000) > 0 && (p.revents & POLLIN)) serve_control(mc, control);
  }
  if (control >= 0) {
    close(control);
    unlink(argv[3]);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
