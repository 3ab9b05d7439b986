/*
 * A Kafka-protocol broker for local runs and tests: librdkafka's mock cluster.
 * Usage: kafka-mock <brokers> <bootstrap-file>
 * Starts <brokers> in-memory brokers on 127.0.0.1, writes "host:port,host:port,..." to
 * <bootstrap-file> (atomically, via a temporary file), and serves until SIGTERM or SIGINT.
 * Everything is kept in memory: a restart starts an empty cluster.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <brokers> <bootstrap-file>\n", argv[0]);
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
  const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
    perror("writing bootstrap file");
    return 1;
  }
  fprintf(stderr, "kafka-mock: %d brokers at %s\n", brokers, bootstraps);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGHUP, on_signal);
  while (!stop) pause();
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
