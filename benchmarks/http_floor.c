/* The C floor of benchmarks/http.py: what the operating system alone costs per request.
 *
 * No HTTP server: one thread, epoll, non-blocking sockets. Each read that holds a request
 * is answered with the same hello-world response, with no parsing; a request that says
 * "close" (wrk's "Connection: close") is answered and the connection closed at once.
 * Deferred accepting (TCP_DEFER_ACCEPT) is on, as relays-http turns it on: a connection is
 * handed over once its request is there, so it is read in the step that accepts it and
 * never registered with epoll unless it stays open. A close answer is sent with MSG_MORE,
 * as relays-sockets' own transport sends an answer whose step closes, so the FIN goes out
 * in the answer's segment. Whatever CPU this takes per request
 * is the kernel's share (accept, read, write, close, the loopback TCP work) plus a few
 * hundred instructions: the floor under any server on the same machine.
 *
 * Usage: http_floor PORT   (listens on 127.0.0.1; stopped with SIGTERM)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char KEEP[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!";
static const char CLOSE[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n"
    "connection: close\r\n\r\nHello, World!";

/* Answer what can be read on *fd*; 1 when the connection is still open, 0 when closed. */
static int serve(int fd) {
    char buffer[65536];
    ssize_t got = read(fd, buffer, sizeof buffer - 1);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 1;
    if (got <= 0) {
        close(fd);
        return 0;
    }
    buffer[got] = '\0';
    if (strstr(buffer, "close") != NULL) {
        (void)!send(fd, CLOSE, sizeof CLOSE - 1, MSG_MORE);
        close(fd);
        return 0;
    }
    (void)!write(fd, KEEP, sizeof KEEP - 1);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int listening = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1, defer = 1;
    setsockopt(listening, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(listening, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* handed down */
    setsockopt(listening, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)atoi(argv[1]));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listening, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listening, 1024) != 0) {
        perror("http_floor: bind/listen");
        return 1;
    }
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listening};
    epoll_ctl(poller, EPOLL_CTL_ADD, listening, &event);
    struct epoll_event ready[256];
    for (;;) {
        int count = epoll_wait(poller, ready, 256, -1);
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd != listening) {
                serve(fd); /* a closed descriptor leaves epoll by itself */
                continue;
            }
            for (;;) { /* accept until none is left */
                int connection = accept4(listening, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (connection < 0)
                    break;
                if (serve(connection)) {
                    struct epoll_event reading = {.events = EPOLLIN, .data.fd = connection};
                    epoll_ctl(poller, EPOLL_CTL_ADD, connection, &reading);
                }
            }
        }
    }
}
