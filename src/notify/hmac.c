/*
 * hmac.c - see hmac.h.
 */
#include "notify/hmac.h"

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SHA256_LEN 32

static void to_hex(const unsigned char *md, char out[SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < SHA256_LEN; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[SHA256_HEX_LEN] = '\0';
}

int hmac_sha256_hex(const void *key, size_t keylen, const void *data,
                    size_t len, char out[SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (keylen > (size_t)INT_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key ? key : "", (int)keylen,
              data ? data : (const void *)"", len, md, &mdlen) ||
        mdlen != SHA256_LEN)
        return -1;
    to_hex(md, out);
    return 0;
}

int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (!EVP_Digest(data ? data : (const void *)"", len, md, &mdlen,
                    EVP_sha256(), NULL) || mdlen != SHA256_LEN)
        return -1;
    to_hex(md, out);
    return 0;
}
