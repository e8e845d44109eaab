/*
 * azure-forwarder: the only process that touches Wazuh. Each event from the
 * statekeeper (fd 0) becomes one datagram "1:Azure:<payload>" on Wazuh's
 * queue socket; it acknowledges (fd 3) the highest sequence number the
 * kernel accepted after each batch, every ACK_EVERY events, before it
 * waits for Wazuh and before it gives up. When Wazuh is down it waits and
 * retries with backoff, for at most --wait seconds, then fails without
 * acknowledging what it did not send. --output writes the datagrams to a
 * file instead (one per line), for debugging and the demo.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "frame.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define FD_IN		0
#define FD_ACK		3
#define WAZUH_HEADER	"1:Azure:"
#define WAZUH_MAX_EVENT 65535
#define ACK_EVERY	64 /* events sent between two acknowledgements */

static volatile sig_atomic_t stop; /* SIGTERM: finish this event, stop */

struct fwd {
	const char *socket_path, *output;
	int fd;	       /* connected socket, or the output file */
	int wait_secs; /* how long Wazuh may be down */
	struct buf dgram;
	int64_t sent;
	int64_t seq, acked; /* last event accepted, last acknowledged */
	int check;	    /* --check: can Wazuh's socket be reached? */
	const char *user;   /* --user: run as (started as root) */
	int no_sandbox;	    /* --no-sandbox */
	struct buf ack;
};

/* Tell the statekeeper what the kernel accepted so far. */
static void
acknowledge(struct fwd *w)
{
	if (w->seq <= w->acked)
		return;
	buf_reset(&w->ack);
	if (frame_pack(&w->ack, FRAME_ACK, w->seq) == -1 ||
	    write_all(FD_ACK, w->ack.data, w->ack.len) == -1) {
		if (stop) /* the statekeeper is stopping too */
			exit(EXIT_RUNTIME);
		fatal("cannot acknowledge to the statekeeper");
	}
	w->acked = w->seq;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Stopped by a signal: what Wazuh took is acknowledged first. */
static void __attribute__((noreturn)) stop_now(struct fwd *w)
{
	acknowledge(w);
	log_info("stopped by a signal after %lld events", (long long)w->sent);
	exit(EXIT_RUNTIME);
}

/* Wazuh is gone for good: what it took is acknowledged, then the run
 * fails (the statekeeper keeps the checkpoint and says what is left). */
static void __attribute__((noreturn, format(printf, 2, 3)))
give_up(struct fwd *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->ack.data != NULL)
		acknowledge(w);
	log_errorx("%s; %lld events were sent", msg, (long long)w->sent);
	exit(EXIT_RUNTIME);
}

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: azure-forwarder (--socket PATH | --output FILE|-) "
	    "[--wait SECONDS] [--check] [-d N]\n"
	    "                       [--user NAME] [--no-sandbox]\n"
	    "\n"
	    "Sends each event from azure-statekeeper (fd 0) to Wazuh's queue "
	    "socket as one\n"
	    "datagram \"1:Azure:<json>\" and acknowledges on fd 3 what the "
	    "kernel accepted.\n"
	    "--output writes the datagrams to FILE (or stdout), one per line, "
	    "instead.\n"
	    "--wait: how long to retry while Wazuh is down (default 60).\n"
	    "--check: connect once (nothing is sent) and say so.\n"
	    "--user NAME: started as root, run as NAME once --output is "
	    "open (NAME must be\n"
	    "able to write to the socket: Wazuh's user). The sandbox "
	    "allows no file and no\n"
	    "network but the Unix socket; --no-sandbox turns it off "
	    "(debugging only).\n"
	    "Exit status: 0 success, 1 failure, 100 usage error.\n");
	exit(status);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1)
		;
}

static int
try_connect(struct fwd *w)
{
	struct timeval tv = {1, 0};
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, w->socket_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("socket path too long: %s", w->socket_path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	/* A send blocked on a full queue returns after 1 s, so a stalled
	 * analysisd is noticed (see send_event). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		fatal("setsockopt SO_SNDTIMEO");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * (Re)connect to Wazuh's socket, waiting with backoff while it is absent
 * or refusing. Fails the run after wait_secs.
 */
static void
wazuh_connect(struct fwd *w)
{
	struct timespec start, now;
	long delay = 100;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (w->fd != -1)
		close(w->fd);
	while ((w->fd = try_connect(w)) == -1) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= w->wait_secs)
			give_up(w,
				"Wazuh must be running: cannot connect to %s: "
				"%s (gave up after %d s)",
				w->socket_path, strerror(errno), w->wait_secs);
		log_debug("cannot connect to %s (%s), retrying in %ld ms",
			  w->socket_path, strerror(errno), delay);
		sleep_ms(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
}

/*
 * Send one datagram. Returns when the kernel took it. An event over
 * Wazuh's limit is reported and skipped, as Wazuh does.
 */
static void
send_event(struct fwd *w, const char *body, size_t len)
{
	struct timespec start, now;
	long delay = 100;

	buf_reset(&w->dgram);
	if (buf_append(&w->dgram, WAZUH_HEADER, strlen(WAZUH_HEADER)) == -1 ||
	    buf_append(&w->dgram, body, len) == -1)
		fatalx("event too large");
	if (w->dgram.len > WAZUH_MAX_EVENT) /* azure-statekeeper diverts them */
		fatalx("protocol error from the statekeeper: an event of %zu "
		       "bytes is over Wazuh's limit",
		       w->dgram.len);
	if (w->output) {
		if (buf_append(&w->dgram, "\n", 1) == -1 ||
		    write_all(w->fd, w->dgram.data, w->dgram.len) == -1)
			fatal("write to %s", w->output);
		w->sent++;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (send(w->fd, w->dgram.data, w->dgram.len, 0) == -1) {
		if (errno == EINTR)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= w->wait_secs)
			give_up(w,
				"Error sending message to wazuh (gave up after "
				"%d s): %s",
				w->wait_secs, strerror(errno));
		if (errno == ENOBUFS || errno == EAGAIN ||
		    errno == EWOULDBLOCK) {
			/* Wazuh's queue is full: it reads slowly, or not. */
			acknowledge(w);
			sleep_ms(10);
			continue;
		}
		acknowledge(w);
		log_warn("sending to %s failed, reconnecting", w->socket_path);
		sleep_ms(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
		wazuh_connect(w);
	}
	w->sent++;
}

static void
parse_opts(int argc, char **argv, struct fwd *w, int *debug)
{
	static const struct option lopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"wait", required_argument, NULL, 'w'},
	    {"debug", required_argument, NULL, 'd'},
	    {"check", no_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"no-sandbox", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *errstr;
	int c;

	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			w->socket_path = optarg;
			break;
		case 'o':
			w->output = optarg;
			break;
		case 'w':
			w->wait_secs = (int)strtonum(optarg, 0, 86400, &errstr);
			if (errstr)
				usage_error("--wait %s: %s", optarg, errstr);
			break;
		case 'd':
			*debug = (int)strtonum(optarg, 0, 2, &errstr);
			if (errstr)
				usage_error("-d %s: must be 0, 1 or 2", optarg);
			break;
		case 'c':
			w->check = 1;
			break;
		case 'u':
			w->user = optarg;
			break;
		case 'S':
			w->no_sandbox = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind != argc || (w->socket_path == NULL) == (w->output == NULL))
		usage(EXIT_USAGE);
}

/* --check: connect once (nothing is sent), or see where --output goes. */
static int
check(struct fwd *w)
{
	char dir[4096], *slash;

	if (w->output != NULL) {
		strlcpy(dir, w->output, sizeof(dir));
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		if (strcmp(w->output, "-") != 0 &&
		    access(slash ? (*dir ? dir : "/") : ".", W_OK) == -1) {
			log_errorx("cannot write %s: %s", w->output,
				   strerror(errno));
			return EXIT_RUNTIME;
		}
		printf("ok: the events would go to %s\n", w->output);
		return 0;
	}
	priv_drop(w->user);
	sandbox_enter(SANDBOX_FORWARDER, NULL, 0, w->no_sandbox);
	if ((w->fd = try_connect(w)) == -1) {
		log_errorx("Wazuh must be running: cannot connect to %s: %s",
			   w->socket_path, strerror(errno));
		return EXIT_RUNTIME;
	}
	close(w->fd);
	printf("ok: Wazuh's queue socket %s takes connections\n",
	       w->socket_path);
	return 0;
}

static void
open_output(struct fwd *w)
{
	if (strcmp(w->output, "-") == 0) {
		w->fd = STDOUT_FILENO;
		return;
	}
	w->fd =
	    open(w->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (w->fd == -1)
		fatal("cannot open %s", w->output);
}

int
main(int argc, char **argv)
{
	struct fwd w = {.fd = -1, .wait_secs = 60};
	struct sigaction sa;
	struct frame_reader fr;
	struct frame f;
	const char *errstr = NULL, *body;
	int debug = 0, rc;
	size_t len;

	parse_opts(argc, argv, &w, &debug);
	log_init("azure-forwarder", debug);
	if (w.check)
		return check(&w);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	buf_init(&w.dgram, FRAME_MAX + 64);
	buf_init(&w.ack, 64);
	frame_reader_init(&fr);
	if (w.output)
		open_output(&w); /* before the drop, as root if so started */
	priv_drop(w.user);
	/* No file from here on: a (re)connection needs only the socket. */
	sandbox_enter(SANDBOX_FORWARDER, NULL, 0, w.no_sandbox);
	if (!w.output)
		wazuh_connect(&w);

	for (;;) {
		while ((rc = frame_next(&fr, &f, &errstr)) == 1) {
			if (f.type != FRAME_FWD)
				fatalx("protocol error from the statekeeper: "
				       "unexpected %s",
				       frame_type_name(f.type));
			if (frame_int(&f, 0) != w.seq + 1)
				fatalx("protocol error from the statekeeper: "
				       "event %lld out of sequence",
				       (long long)frame_int(&f, 0));
			body = frame_bin(&f, 1, &len);
			send_event(&w, body, len);
			w.seq++;
			frame_free(&f);
			if (stop)
				stop_now(&w);
			if (w.seq - w.acked >= ACK_EVERY)
				acknowledge(&w);
		}
		if (rc == -1)
			fatalx("protocol error from the statekeeper: %s",
			       errstr);
		/* Everything read so far was handed to the kernel. */
		acknowledge(&w);
		if (fr.eof)
			break;
		if (stop)
			stop_now(&w);
		if (frame_reader_fill(&fr, FD_IN) == -1)
			fatal("read from the statekeeper");
	}
	if (frame_pending(&fr))
		fatalx("the statekeeper sent a truncated frame");
	log_info("%lld events sent to %s", (long long)w.sent,
		 w.output ? w.output : w.socket_path);
	frame_reader_free(&fr);
	buf_free(&w.dgram);
	buf_free(&w.ack);
	return 0;
}
