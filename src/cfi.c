/*
 * cfi.c: the rule a function's call frame information gives for its
 * canonical frame address (CFA) at one instruction (cfi.h).
 *
 * The frame description entry is found the way unwinders find it: the
 * object's .eh_frame_hdr (glibc's _dl_find_object gives it, without a lock)
 * holds a sorted table of (initial location, FDE) pairs.  The CIE's initial
 * instructions and the FDE's, up to the instruction, are then run for the
 * CFA alone; the other registers' rules are skipped.  Anything not
 * understood (another table encoding, a CFA expression, a signal frame, a
 * malformed entry) is "not a fixed offset": the caller then treats the
 * frame as one whose size it cannot know, which is always safe.
 */
#include "cfi.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#define PE_OMIT    0xff
#define PE_ABSPTR  0x00
#define PE_ULEB128 0x01
#define PE_UDATA2  0x02
#define PE_UDATA4  0x03
#define PE_UDATA8  0x04
#define PE_SLEB128 0x09
#define PE_SDATA2  0x0a
#define PE_SDATA4  0x0b
#define PE_SDATA8  0x0c
#define PE_PCREL   0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

#define REG_RBP 6
#define REG_RSP 7

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd;

static uint64_t uleb(rd *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t sleb(rd *r)
{
    int64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    r->bad = true;
    return 0;
}

static uint64_t fixed(rd *r, unsigned size)
{
    if ((size_t)(r->end - r->p) < size) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, size);   /* little-endian */
    r->p += size;
    return v;
}

/* An encoded pointer (DW_EH_PE_*); data-relative values are relative to
 * `data`.  Indirect pointers are not followed (not needed for locations). */
static uint64_t encoded(rd *r, uint8_t enc, uintptr_t data)
{
    if (enc == PE_OMIT)
        return 0;
    uintptr_t here = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        v = fixed(r, 8);
        break;
    case PE_UDATA4:
        v = fixed(r, 4);
        break;
    case PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)fixed(r, 4);
        break;
    case PE_UDATA2:
        v = fixed(r, 2);
        break;
    case PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)fixed(r, 2);
        break;
    case PE_ULEB128:
        v = uleb(r);
        break;
    case PE_SLEB128:
        v = (uint64_t)sleb(r);
        break;
    default:
        r->bad = true;
        return 0;
    }
    switch (enc & 0x70) {
    case 0:
        break;
    case PE_PCREL:
        v += here;
        break;
    case PE_DATAREL:
        v += data;
        break;
    default:
        r->bad = true;
    }
    if (enc & PE_INDIRECT)
        r->bad = true;
    return v;
}

/* The FDE covering pc in the object's .eh_frame_hdr, or NULL. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc)
{
    if (hdr[0] != 1)
        return NULL;
    uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    rd r = { hdr + 4, hdr + 4 + 16, false };
    encoded(&r, ptr_enc, (uintptr_t)hdr);
    uint64_t count = encoded(&r, count_enc, (uintptr_t)hdr);
    if (r.bad || count == 0 || table_enc != (PE_DATAREL | PE_SDATA4))
        return NULL;
    const int32_t *t = (const int32_t *)(const void *)r.p;
    uint64_t lo = 0, hi = count;   /* the last entry with start <= pc */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + (intptr_t)t[2 * mid] <= pc)
            lo = mid;
        else
            hi = mid;
    }
    if ((uintptr_t)hdr + (intptr_t)t[2 * lo] > pc)
        return NULL;
    return hdr + (intptr_t)t[2 * lo + 1];
}

/* One entry's length field: the entry's end, and r past the field. */
static bool entry_bounds(const uint8_t *at, rd *r)
{
    uint32_t len;
    memcpy(&len, at, 4);
    if (len == 0 || len == 0xffffffffu)   /* terminator, 64-bit DWARF */
        return false;
    r->p = at + 4;
    r->end = at + 4 + len;
    r->bad = false;
    return true;
}

struct cfa_state {
    uint64_t reg;
    int64_t off;
    bool expr;
    uint8_t rbp;         /* LW_RBP_* */
    int64_t rbp_off;
};

/* A rule for register reg: rbp's is followed, the others skipped. */
static void rbp_rule(struct cfa_state *s, uint64_t reg, uint8_t rule, int64_t off)
{
    if (reg == REG_RBP) {
        s->rbp = rule;
        s->rbp_off = off;
    }
}

#define REMEMBER_MAX 8

/* Runs CFA instructions [r) until the location passes pc.  *loc is the
 * current location (updated).  false: an instruction not understood. */
static bool run(rd *r, uint64_t code_align, int64_t data_align, uint8_t fde_enc,
                uintptr_t pc, uintptr_t *loc, struct cfa_state *s, struct cfa_state *stack,
                unsigned *depth, const struct cfa_state *initial)
{
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint8_t low = op & 0x3f;
        uint64_t delta = 0;
        switch (op & 0xc0) {
        case 0x40:   /* advance_loc */
            delta = low;
            goto advance;
        case 0x80:   /* offset */
            rbp_rule(s, low, LW_RBP_SAVED, (int64_t)uleb(r) * data_align);
            continue;
        case 0xc0:   /* restore */
            if (initial)
                rbp_rule(s, low, initial->rbp, initial->rbp_off);
            continue;
        }
        switch (op) {
        case 0x00:   /* nop */
            break;
        case 0x01:   /* set_loc */
            *loc = (uintptr_t)encoded(r, fde_enc, 0);
            if (*loc > pc)
                return true;
            break;
        case 0x02:
            delta = fixed(r, 1);
            goto advance;
        case 0x03:
            delta = fixed(r, 2);
            goto advance;
        case 0x04:
            delta = fixed(r, 4);
            goto advance;
        case 0x05: { /* offset_extended */
            uint64_t reg = uleb(r);
            rbp_rule(s, reg, LW_RBP_SAVED, (int64_t)uleb(r) * data_align);
            break;
        }
        case 0x09:   /* register */
        case 0x14:   /* val_offset */
        case 0x2f: { /* GNU_negative_offset_extended */
            uint64_t reg = uleb(r);
            uleb(r);
            rbp_rule(s, reg, LW_RBP_OTHER, 0);
            break;
        }
        case 0x06: { /* restore_extended */
            uint64_t reg = uleb(r);
            if (initial)
                rbp_rule(s, reg, initial->rbp, initial->rbp_off);
            break;
        }
        case 0x07:   /* undefined */
        case 0x08:   /* same_value */
            rbp_rule(s, uleb(r), LW_RBP_KEPT, 0);
            break;
        case 0x2e:   /* GNU_args_size */
            uleb(r);
            break;
        case 0x0a:   /* remember_state */
            if (*depth == REMEMBER_MAX)
                return false;
            stack[(*depth)++] = *s;
            break;
        case 0x0b:   /* restore_state */
            if (*depth == 0)
                return false;
            *s = stack[--*depth];
            break;
        case 0x0c:   /* def_cfa */
            s->reg = uleb(r);
            s->off = (int64_t)uleb(r);
            s->expr = false;
            break;
        case 0x0d:   /* def_cfa_register */
            s->reg = uleb(r);
            s->expr = false;
            break;
        case 0x0e:   /* def_cfa_offset */
            s->off = (int64_t)uleb(r);
            break;
        case 0x0f: { /* def_cfa_expression */
            uint64_t n = uleb(r);
            if (n > (uint64_t)(r->end - r->p))
                return false;
            r->p += n;
            s->expr = true;
            break;
        }
        case 0x10:   /* expression */
        case 0x16: { /* val_expression */
            uint64_t reg = uleb(r);
            uint64_t n = uleb(r);
            if (n > (uint64_t)(r->end - r->p))
                return false;
            r->p += n;
            rbp_rule(s, reg, LW_RBP_OTHER, 0);
            break;
        }
        case 0x11: { /* offset_extended_sf */
            uint64_t reg = uleb(r);
            rbp_rule(s, reg, LW_RBP_SAVED, sleb(r) * data_align);
            break;
        }
        case 0x15: { /* val_offset_sf */
            uint64_t reg = uleb(r);
            sleb(r);
            rbp_rule(s, reg, LW_RBP_OTHER, 0);
            break;
        }
        case 0x12:   /* def_cfa_sf */
            s->reg = uleb(r);
            s->off = sleb(r) * data_align;
            s->expr = false;
            break;
        case 0x13:   /* def_cfa_offset_sf */
            s->off = sleb(r) * data_align;
            break;
        default:
            return false;
        }
        continue;
    advance:
        *loc += delta * code_align;
        if (*loc > pc)
            return true;
    }
    return !r->bad;
}

/* The FDE covering pc, parsed: the function's range, its CFA program (f)
 * and its CIE's (c), with what running them needs. */
typedef struct {
    uintptr_t start, range;
    rd f, c;
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
} fde_info;

static bool fde_of(uintptr_t pc, fde_info *fi)
{
    struct dl_find_object fo;
    if (_dl_find_object((void *)pc, &fo) != 0 || !fo.dlfo_eh_frame)
        return false;
    const uint8_t *fde = find_fde(fo.dlfo_eh_frame, pc);
    if (!fde)
        return false;
    rd f;
    if (!entry_bounds(fde, &f))
        return false;
    int32_t cie_off;
    memcpy(&cie_off, f.p, 4);
    if (cie_off <= 0)
        return false;   /* 0 is a CIE, not an FDE */
    const uint8_t *cie = f.p - cie_off;
    f.p += 4;

    /* The CIE. */
    rd c;
    if (!entry_bounds(cie, &c))
        return false;
    if (fixed(&c, 4) != 0)
        return false;   /* CIE id */
    uint8_t version = (uint8_t)fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t alen = strnlen(aug, (size_t)(c.end - c.p));
    if (alen == (size_t)(c.end - c.p))
        return false;
    c.p += alen + 1;
    if (version >= 4)
        c.p += 2;   /* address and segment selector sizes */
    uint64_t code_align = uleb(&c);
    int64_t data_align = sleb(&c);
    if (version == 1)
        fixed(&c, 1);
    else
        uleb(&c);   /* return address register */
    uint8_t fde_enc = PE_ABSPTR;
    const uint8_t *cie_insns = c.p;
    if (aug[0] == 'z') {
        uint64_t n = uleb(&c);
        if (c.bad || n > (uint64_t)(c.end - c.p))
            return false;
        cie_insns = c.p + n;
        for (const char *a = aug + 1; *a; a++) {
            switch (*a) {
            case 'R':
                fde_enc = (uint8_t)fixed(&c, 1);
                break;
            case 'L':
                fixed(&c, 1);
                break;
            case 'P': {
                uint8_t penc = (uint8_t)fixed(&c, 1);
                encoded(&c, (uint8_t)(penc & ~PE_INDIRECT), 0);
                break;
            }
            case 'S':   /* a signal frame */
            default:
                return false;
            }
        }
    } else if (aug[0]) {
        return false;
    }
    if (c.bad || cie_insns > c.end)
        return false;
    c.p = cie_insns;

    /* The FDE's range and instructions. */
    uintptr_t start = (uintptr_t)encoded(&f, fde_enc, 0);
    uintptr_t range = (uintptr_t)encoded(&f, (uint8_t)(fde_enc & 0x0f), 0);
    if (f.bad || pc < start || pc - start >= range)
        return false;
    if (aug[0] == 'z') {
        uint64_t n = uleb(&f);
        if (f.bad || n > (uint64_t)(f.end - f.p))
            return false;
        f.p += n;
    }
    fi->start = start;
    fi->range = range;
    fi->f = f;
    fi->c = c;
    fi->code_align = code_align;
    fi->data_align = data_align;
    fi->fde_enc = fde_enc;
    return true;
}

bool lw_function_range(uintptr_t pc, uintptr_t *start, uintptr_t *end)
{
    fde_info fi;
    if (!fde_of(pc, &fi))
        return false;
    *start = fi.start;
    *end = fi.start + fi.range;
    return true;
}

bool lw_cfa_rule(uintptr_t pc, lw_cfa *out)
{
    fde_info fi;
    if (!fde_of(pc, &fi))
        return false;
    rd f = fi.f, c = fi.c;
    uint64_t code_align = fi.code_align;
    int64_t data_align = fi.data_align;
    uint8_t fde_enc = fi.fde_enc;
    uintptr_t start = fi.start;

    struct cfa_state s = { REG_RSP, 8, false, LW_RBP_KEPT, 0 }, stack[REMEMBER_MAX];
    unsigned depth = 0;
    uintptr_t loc = start;
    if (!run(&c, code_align, data_align, fde_enc, UINTPTR_MAX, &loc, &s, stack, &depth, NULL))
        return false;
    struct cfa_state initial = s;
    loc = start;
    if (!run(&f, code_align, data_align, fde_enc, pc, &loc, &s, stack, &depth, &initial))
        return false;
    if (s.expr || (s.reg != REG_RSP && s.reg != REG_RBP))
        return false;
    out->from_rbp = s.reg == REG_RBP;
    out->off = s.off;
    out->rbp = s.rbp;
    out->rbp_off = s.rbp_off;
    return true;
}
