/*
 * The load generator of benchmarks/echo.py: TCP ping-pong on loopback, in C.
 *
 *     echo_client PORT SIZE CONNECTIONS WARM_UP SECONDS CPU
 *
 * echo.py compiles this file with `cc -O2` when it runs (see its docstring for why the
 * load generator is C: a Python one costs as much per message as the fastest servers, so
 * it, not they, set the pace).
 *
 * Theory of operation. CONNECTIONS connections to 127.0.0.1:PORT each keep exactly one
 * message of SIZE bytes in flight: send it, read until SIZE bytes came back, send it again.
 * Sockets are non-blocking with TCP_NODELAY; one level-triggered epoll watches them all and
 * is polled with a zero timeout, so this process never sleeps. That is on purpose: on
 * loopback a send() runs the receiver's TCP input, wake-up included, inside the sender's
 * system call, so a client that slept between echoes would bill its wake-ups to the server.
 * CPU (0, 1, ...) pins this process to that CPU; -1 leaves it where it is.
 *
 * The counted window is set by echo.py over stdin and stdout, so that echo.py can read the
 * server's CPU time right at its start and its end:
 *
 *   1. connect, start the load, run WARM_UP seconds, print "ready";
 *   2. keep the load running until a line arrives on stdin: the window starts there;
 *   3. after SECONDS, stop sending and print one line, every figure counted in the window:
 *      "done messages=M bytes=B seconds=S cpu=C" (S: wall-clock seconds; C: this process's
 *      CPU seconds; B: bytes received);
 *   4. keep the connections open until stdin closes (so that the server's work of closing
 *      them lands after echo.py's last reading), then close them and exit 0.
 *
 * At most one message per connection is in flight when the window opens or closes, so the
 * window's edges move the counts by at most CONNECTIONS messages, alike at both ends.
 * Any failure (refused connection, a connection the server closed) prints "error: ..." on
 * stderr and exits 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STDIN_TAG UINT32_MAX /* epoll data for stdin; connections are tagged by index */
#define MAX_EVENTS 256
#define RECEIVE_BUFFER (256 * 1024)

struct peer {
    int fd;
    size_t sent;     /* bytes of the message in flight sent so far */
    size_t received; /* bytes of its echo received so far */
    int want_out;    /* EPOLLOUT is watched: the last send() would have blocked */
};

static struct peer *peers;
static int epoll_fd;
static char *message;
static size_t size;
static unsigned long long messages, bytes; /* since the start; the window is a difference */
static char receive_buffer[RECEIVE_BUFFER];

static void die(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("error: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(1);
}

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long argument(const char *text, const char *name, long lowest, long highest) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || *end || end == text || value < lowest || value > highest)
        die("%s must be an integer from %ld to %ld, not '%s'", name, lowest, highest, text);
    return value;
}

static double seconds_argument(const char *text, const char *name) {
    char *end;
    double value = strtod(text, &end);
    if (*end || end == text || !(value >= 0 && value < 1e6))
        die("%s must be a number of seconds, not '%s'", name, text);
    return value;
}

static void watch(uint32_t index, int want_out) {
    struct peer *peer = &peers[index];
    struct epoll_event event = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0)};
    event.data.u32 = index;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, peer->fd, &event) < 0)
        die("epoll_ctl: %s", strerror(errno));
    peer->want_out = want_out;
}

/* Send what is left of the message in flight; watch EPOLLOUT only while the socket is full. */
static void send_rest(uint32_t index) {
    struct peer *peer = &peers[index];
    while (peer->sent < size) {
        ssize_t n = send(peer->fd, message + peer->sent, size - peer->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            die("send: %s", strerror(errno));
        }
        peer->sent += (size_t)n;
    }
    int want_out = peer->sent < size;
    if (want_out != peer->want_out)
        watch(index, want_out);
}

/* One read per ready socket and poll: level-triggered epoll comes back for the rest. */
static void receive(uint32_t index) {
    struct peer *peer = &peers[index];
    ssize_t n = recv(peer->fd, receive_buffer, sizeof receive_buffer, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        die("recv: %s", strerror(errno));
    }
    if (n == 0)
        die("the server closed a connection");
    peer->received += (size_t)n;
    bytes += (unsigned long long)n;
    if (peer->received < size)
        return;
    /* the server can echo only what was sent: a whole echo means a whole message sent */
    messages++;
    peer->sent = peer->received = 0;
    send_rest(index);
}

/*
 * Run the load until *deadline* (CLOCK_MONOTONIC seconds) or, when *until_stdin*, until a
 * line arrives on stdin.
 */
static void run(double deadline, int until_stdin) {
    struct epoll_event events[MAX_EVENTS];
    while (until_stdin || now(CLOCK_MONOTONIC) < deadline) {
        int ready = epoll_wait(epoll_fd, events, MAX_EVENTS, 0);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < ready; i++) {
            uint32_t index = events[i].data.u32;
            if (index == STDIN_TAG) {
                char line[64];
                ssize_t n = read(STDIN_FILENO, line, sizeof line);
                if (n <= 0)
                    die("stdin closed before the counted window started");
                return;
            }
            if (events[i].events & EPOLLOUT)
                send_rest(index);
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                receive(index);
        }
    }
}

static void pin(long cpu) {
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("cannot run on CPU %ld: %s", cpu, strerror(errno));
}

static void connect_all(long port, long connections) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    for (long i = 0; i < connections; i++) {
        struct peer *peer = &peers[i];
        peer->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (peer->fd < 0)
            die("socket: %s", strerror(errno));
        /* a blocking connect: start-up is not counted, and it is simplest */
        if (connect(peer->fd, (struct sockaddr *)&address, sizeof address) < 0)
            die("connect to 127.0.0.1:%ld: %s", port, strerror(errno));
        if (setsockopt(peer->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            die("TCP_NODELAY: %s", strerror(errno));
        if (fcntl(peer->fd, F_SETFL, fcntl(peer->fd, F_GETFL) | O_NONBLOCK) < 0)
            die("O_NONBLOCK: %s", strerror(errno));
        struct epoll_event event = {.events = EPOLLIN};
        event.data.u32 = (uint32_t)i;
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, peer->fd, &event) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
}

int main(int argc, char **argv) {
    if (argc != 7)
        die("usage: %s PORT SIZE CONNECTIONS WARM_UP SECONDS CPU", argv[0]);
    long port = argument(argv[1], "PORT", 1, 65535);
    size = (size_t)argument(argv[2], "SIZE", 1, 64L * 1024 * 1024);
    long connections = argument(argv[3], "CONNECTIONS", 1, 10000);
    double warm_up = seconds_argument(argv[4], "WARM_UP");
    double seconds = seconds_argument(argv[5], "SECONDS");
    pin(argument(argv[6], "CPU", -1, CPU_SETSIZE - 1));

    message = malloc(size);
    peers = calloc((size_t)connections, sizeof *peers);
    if (!message || !peers)
        die("out of memory");
    memset(message, 'm', size);
    epoll_fd = epoll_create1(0);
    if (epoll_fd < 0)
        die("epoll_create1: %s", strerror(errno));
    connect_all(port, connections);

    for (long i = 0; i < connections; i++)
        send_rest((uint32_t)i);
    run(now(CLOCK_MONOTONIC) + warm_up, 0);

    /* the load keeps running while echo.py reads the server's CPU time and answers */
    struct epoll_event event = {.events = EPOLLIN};
    event.data.u32 = STDIN_TAG;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &event) < 0)
        die("epoll_ctl on stdin: %s", strerror(errno));
    printf("ready\n");
    fflush(stdout);
    run(0, 1);
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);

    unsigned long long first_messages = messages, first_bytes = bytes;
    double start = now(CLOCK_MONOTONIC), start_cpu = now(CLOCK_PROCESS_CPUTIME_ID);
    run(start + seconds, 0);
    double elapsed = now(CLOCK_MONOTONIC) - start;
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - start_cpu;
    printf("done messages=%llu bytes=%llu seconds=%.9f cpu=%.9f\n", messages - first_messages,
           bytes - first_bytes, elapsed, cpu);
    fflush(stdout);

    /* hold the connections open (sending nothing) until echo.py has read the server's CPU */
    char rest[64];
    while (read(STDIN_FILENO, rest, sizeof rest) > 0)
        ;
    for (long i = 0; i < connections; i++)
        close(peers[i].fd);
    return 0;
}
