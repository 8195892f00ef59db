/* SPDX-License-Identifier: MIT */
/* request.c: small accessors for struct request and struct response. */
#include "request.h"

#include <unistd.h>

#include <stdio.h>
#include <string.h>

const char *req_arg(const struct request *r, const char *key)
{
    for (int i = 0; i < r->n_args; i++)
        if (strcmp(r->args[i].key, key) == 0) return r->args[i].value;
    return NULL;
}

const char *req_arg_ci(const struct request *r, const char *key)
{
    for (int i = 0; i < r->n_args; i++)
        if (str_ieq(r->args[i].key, key)) return r->args[i].value;
    return NULL;
}

const char *req_param(const struct request *r, const char *name)
{
    for (int i = 0; i < r->n_params; i++)
        if (strcmp(r->param_names[i], name) == 0) return r->params[i];
    return NULL;
}

int req_wants_html(const struct request *r)
{
    const char *f = req_arg(r, "f");
    if (f) return str_ieq(f, "html") || str_ieq(f, "text/html");
    if (!r->accept) return 0;
    const char *html = strstr(r->accept, "text/html");
    const char *json = strstr(r->accept, "json");
    return html && (!json || html < json);
}

void resp_init(struct response *res)
{
    memset(res, 0, sizeof *res);
    buf_init(&res->body);
}

void resp_body_shared(struct response *res, const char *data, size_t len, void (*release)(void *))
{
    if (res->body_shared) res->body_release((void *)res->body_shared);
    res->body_shared = data;
    res->body_shared_len = data ? len : 0;
    res->body_release = release;
}

void resp_fini(struct response *res)
{
    resp_body_shared(res, NULL, 0, NULL);
    buf_fini(&res->body);
    if (res->has_body_fd && res->body_fd >= 0) close(res->body_fd);
    res->has_body_fd = 0;
}

void resp_body_fd(struct response *res, int fd, uint64_t size)
{
    if (res->has_body_fd && res->body_fd >= 0 && res->body_fd != fd) close(res->body_fd);
    res->has_body_fd = 1;
    res->body_fd = fd;
    res->body_fd_size = size;
}

void resp_body_clear(struct response *res)
{
    buf_reset(&res->body);
    resp_body_shared(res, NULL, 0, NULL);
    if (res->has_body_fd && res->body_fd >= 0) close(res->body_fd);
    res->has_body_fd = 0, res->body_fd = -1, res->body_fd_size = 0;
}

void resp_set(struct response *res, int status, const char *content_type)
{
    res->status = status;
    snprintf(res->content_type, sizeof res->content_type, "%s", content_type);
}

void resp_header(struct response *res, const char *name, const char *value)
{
    for (int i = 0; i < res->n_headers; i++)
        if (str_ieq(res->headers[i].name, name)) {
            snprintf(res->headers[i].value, sizeof res->headers[i].value, "%s", value);
            return;
        }
    if (res->n_headers >= RESP_MAX_HEADERS) return;
    struct resp_header *h = &res->headers[res->n_headers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->value, sizeof h->value, "%s", value);
}

const char *resp_get_header(const struct response *res, const char *name)
{
    for (int i = 0; i < res->n_headers; i++)
        if (str_ieq(res->headers[i].name, name)) return res->headers[i].value;
    return NULL;
}
