/* libFuzzer target: what an SMTP server answers.  A server thread on
 * 127.0.0.1 answers the client's session with the input (all of it at
 * once, then end of file: libesmtp reads the replies as it needs them),
 * and smtp_send_batch() must classify whatever comes without crashing. */
#include "fuzz_common.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "notify/smtp.h"

struct server {
    int lfd;
    const uint8_t *data;
    size_t size;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t off = 0;
    while (off < s->size) {
        ssize_t n = send(fd, s->data + off, s->size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
    close(fd);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int lfd = -1;
    static int port;
    if (lfd < 0) {
        signal(SIGPIPE, SIG_IGN);
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t alen = sizeof(a);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            listen(lfd, 4) != 0 ||
            getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
            abort();
        port = ntohs(a.sin_port);
    }
    struct server s = { lfd, data, size };
    pthread_t th;
    if (pthread_create(&th, NULL, serve, &s) != 0)
        abort();
    struct smtp_target t;
    memset(&t, 0, sizeof(t));
    t.host = (char *)"127.0.0.1";
    t.port = port;
    t.starttls = (size && (data[0] & 1)) ? STARTTLS_TRY : STARTTLS_NO;
    t.from = (char *)"segalert@example.com";
    t.helo = (char *)"fuzz";
    t.timeout_s = 1;
    static const char text[] = "Subject: x\r\nFrom: segalert@example.com\r\n"
                               "\r\nbody\r\n";
    const char *rcpts[] = { "a@example.com", "b@example.com" };
    struct smtp_message m = { text, sizeof(text) - 1, rcpts, 2 };
    struct smtp_result r;
    memset(&r, 0, sizeof(r));
    char err[256];
    (void)smtp_send_batch(&t, &m, 1, &r, err, sizeof(err));
    smtp_result_clear(&r);
    pthread_join(th, NULL);
    return 0;
}
