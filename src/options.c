/*
 * options.c: the parser generated from options.def.  Owns lw_opt.
 * Must never: call getenv/malloc/stdio (runs inside the first interposed
 * call, possibly before libc is fully initialised).
 */
#include "options.h"
#include "log.h"
#include "fmt.h"

#include <string.h>
#include <unistd.h>

extern char **environ;

lw_options lw_opt;
unsigned lw_blocking_families = LW_FAM_DEFAULT;

/* "sleep,net" -> mask; false on any unknown word. */
static bool parse_families(const char *v, unsigned *out)
{
    static const struct { const char *name; unsigned mask; } fams[] = {
        { "sleep", LW_FAM_SLEEP }, { "net", LW_FAM_NET }, { "pipe", LW_FAM_PIPE },
        { "file", LW_FAM_FILE },   { "wait", LW_FAM_WAIT }, { "all", LW_FAM_ALL },
        { "none", 0 },
    };
    unsigned mask = 0;
    const char *p = v;
    if (!*p)
        return false;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (size_t i = 0; i < LW_ARRAY_SIZE(fams) && !found; i++) {
            if (strlen(fams[i].name) == len && strncmp(fams[i].name, p, len) == 0) {
                mask |= fams[i].mask;
                found = true;
            }
        }
        if (!found)
            return false;
        if (!end)
            break;
        p = end + 1;
    }
    *out = mask;
    return true;
}

const char *lw_env(char **envp, const char *name)
{
    size_t n = strlen(name);
    if (!envp)
        envp = environ;
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* One line, whatever the value holds: shortened and escaped. */
static void warn_bad(const char *name, const char *val, const char *accepted, const char *dflt)
{
    char mem[640];
    lw_value_str(val, mem, sizeof(mem), 96);
    lw_warn("lockwatch: warning: %s=\"%s\" is not valid (accepted: %s); using %s\n",
            name, mem, accepted, dflt);
}

static bool parse_long(const char *s, long *out)
{
    long v = 0;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static int parse_choice(const char *val, const char *choices)
{
    size_t vl = strlen(val);
    int idx = 0;
    for (const char *c = choices; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == vl && strncmp(c, val, vl) == 0)
            return idx;
        if (!bar)
            break;
        c = bar + 1;
    }
    return -1;
}

static void choice_name(const char *choices, int idx, char *out, size_t outsz)
{
    const char *c = choices;
    for (int i = 0; i < idx && c; i++) {
        c = strchr(c, '|');
        if (c)
            c++;
    }
    size_t l = 0;
    while (c && c[l] && c[l] != '|' && l + 1 < outsz) {
        out[l] = c[l];
        l++;
    }
    out[l] = 0;
}

void lw_options_parse(char **envp)
{
    const char *v;
    char tmp[64];
    (void)tmp;
#define LW_OPT_INT(f, N, d, lo, hi, h)                                              \
    lw_opt.f = (d);                                                                 \
    if ((v = lw_env(envp, #N)) != NULL) {                                           \
        long x;                                                                     \
        if (parse_long(v, &x) && x >= (lo) && x <= (hi))                            \
            lw_opt.f = x;                                                           \
        else                                                                        \
            warn_bad(#N, v, "an integer from " #lo " to " #hi, "the default " #d); \
    }
#define LW_OPT_ENUM(f, N, d, choices, h)                                            \
    lw_opt.f = (d);                                                                 \
    if ((v = lw_env(envp, #N)) != NULL) {                                           \
        int x = parse_choice(v, choices);                                           \
        if (x >= 0)                                                                 \
            lw_opt.f = x;                                                           \
        else {                                                                      \
            choice_name(choices, d, tmp, sizeof(tmp));                              \
            warn_bad(#N, v, choices, tmp);                                          \
        }                                                                           \
    }
#define LW_OPT_STR(f, N, d, h)                                                      \
    strncpy(lw_opt.f, (d), sizeof(lw_opt.f) - 1);                                   \
    if ((v = lw_env(envp, #N)) != NULL) {                                           \
        if (strlen(v) < sizeof(lw_opt.f))                                           \
            strcpy(lw_opt.f, v);                                                    \
        else                                                                        \
            warn_bad(#N, v, "a value shorter than 512 bytes", "the default");      \
    }
#include "options.def"
#undef LW_OPT_INT
#undef LW_OPT_ENUM
#undef LW_OPT_STR
    lw_blocking_families = LW_FAM_DEFAULT;
    if (!parse_families(lw_opt.blocking, &lw_blocking_families)) {
        warn_bad("LOCKWATCH_BLOCKING", lw_opt.blocking,
                 "a comma list of sleep, net, pipe, file, wait, all, none",
                 "sleep,net,pipe,wait");
        lw_blocking_families = LW_FAM_DEFAULT;
        strcpy(lw_opt.blocking, "sleep,net,pipe,wait");
    }
}
