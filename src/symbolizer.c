/*
 * symbolizer.c: lockwatch-symbolizer, the helper process that turns
 * (module, address) into function names, source lines and inlined frames.
 * liblockwatch starts it at its first report (stacks.c) and talks to it over
 * a socket on its standard input and output; it is never started by a clean
 * run.  It is an ordinary program: it may allocate, lock and read files as
 * it likes, which the library may not do while a program thread is inside a
 * lock wrapper (possibly inside the program's malloc).  Needs: elfutils
 * libdw (DWARF line tables and inline scopes), libiberty (the C++
 * demangler).
 *
 * Protocol, one request per line:  "<hex address> <module path>\n", the
 * address in the module's own ELF coordinates (for a shared object or PIE,
 * the offset from its load base; for a fixed-address executable, the
 * absolute address), already the address of the call (the caller subtracts
 * one from a return address).  Answer: zero or more frame lines, innermost
 * (most inlined) first, then "END\n".  A frame line is
 *   "F\t<function>\t<mangled>\t<file>\t<line>\t<inlined 0|1>\n"
 * with empty fields when unknown; <function> is demangled, <mangled> is the
 * symbol or linkage name as the object file spells it (empty when it is the
 * same).  No frame line means nothing is known.  Tabs and newlines never
 * occur in names the tool chain produces; any found are replaced by spaces.
 *
 * "data <hex address> <module path>\n": the global or static variable that
 * contains the (module-relative) data address.  Answer, then "END\n":
 *   "V\t<name>\t<mangled>\t<path>\t<decl file>\t<decl line>\t<static 0|1>\t<atomic 0|1>\n"
 * <name> is the variable's qualified, demangled name ("bank::ledger", and
 * "worker::lock" for a static inside a function), <path> the place of the
 * address inside it ("[3].lock", ".buckets[2].mu", "" for the variable
 * itself, "+0x8" past the last member that covers it).  Found by DWARF
 * (DW_TAG_variable with a DW_OP_addr location, its type walked through
 * arrays, structs, classes, unions and typedefs); with no DWARF, the ELF
 * symbol with the offset as "+0x..".  Nothing when the address is in no
 * variable.  Each module's variables are indexed once, at the first data
 * request about it.  <atomic> is 1 when the place is inside an atomic
 * object (a C11 _Atomic type, a C++ std::atomic on the way down), 0 also
 * when unknown.
 *
 * "local <hex pc> <decimal offset> <module path>\n": the local variable
 * of the function at pc (a return address less one, as for frames) that
 * lies at `offset` bytes from the frame's canonical frame address.
 * Answer, then "END\n":
 *   "L\t<function>\t<name>\t<path>\t<decl file>\t<decl line>\t<atomic 0|1>\n"
 * Found only for variables with DW_OP_fbreg locations in functions whose
 * frame base is DW_OP_call_frame_cfa (GCC's), innermost scope first.
 */
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <libiberty/demangle.h>

#include "atomicname.h"
#include "datapath.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULES 256

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* One Dwfl per module: each reported at address 0, so a module-relative
 * address is the Dwfl address. */
typedef struct {
    Dwarf_Addr lo, size;
    Dwarf_Off die;        /* the variable's DIE, in the module's Dwarf */
    Dwarf_Off scope;      /* its function's DIE (a static in it), or 0 */
} var_ent;

static struct {
    char *path;
    Dwfl *dwfl;
    Dwfl_Module *mod;
    int indexed;          /* vars built (data requests only): 1 the
                           * namespace-scope ones, 2 with functions' statics */
    var_ent *vars;        /* sorted by lo */
    size_t nvars;
} mods[MAX_MODULES];
static int nmods;

static int module_index(const char *path);

static Dwfl_Module *module(const char *path)
{
    int i = module_index(path);
    return i >= 0 ? mods[i].mod : NULL;
}

/* The module's slot (opened at the first request about it), or -1. */
static int module_index(const char *path)
{
    for (int i = 0; i < nmods; i++)
        if (strcmp(mods[i].path, path) == 0)
            return i;
    Dwfl *d = dwfl_begin(&callbacks);
    Dwfl_Module *m = NULL;
    if (d) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            dwfl_report_begin(d);
            /* Consumes fd. */
            m = dwfl_report_elf(d, path, path, fd, 0, false);
            dwfl_report_end(d, NULL, NULL);
        }
    }
    if (nmods < MAX_MODULES) {
        mods[nmods].path = strdup(path);
        mods[nmods].dwfl = d;
        mods[nmods].mod = m;
        return nmods++;
    }
    return -1;
}

static void put_field(const char *s)
{
    putchar('\t');
    for (; s && *s; s++)
        putchar(*s == '\t' || *s == '\n' ? ' ' : *s);
}

static void put_frame(const char *name, const char *file, int line, int inlined)
{
    char *dem = NULL;
    if (name && name[0] == '_' && name[1] == 'Z')
        dem = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
    fputs("F", stdout);
    put_field(dem ? dem : name);
    put_field(dem ? name : "");
    put_field(file);
    printf("\t%d\t%d\n", line, inlined);
    free(dem);
}

/* The name of a subprogram or inlined subroutine DIE: its linkage name
 * (mangled, for C++) when it has one, else its plain name. */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
        n = dwarf_formstring(&a);
    if (!n)
        n = dwarf_diename(die);
    if (!n && dwarf_attr_integrate(die, DW_AT_name, &a))
        n = dwarf_formstring(&a);
    return n;
}

static void answer(uint64_t addr, const char *path)
{
    Dwfl_Module *m = module(path);
    if (!m)
        return;
    /* The ELF symbol: the outermost function's name. */
    GElf_Sym sym;
    GElf_Off off = 0;
    const char *symname = dwfl_module_addrinfo(m, addr, &off, &sym, NULL, NULL, NULL);

    const char *file = NULL;
    int line = 0;
    Dwfl_Line *ln = dwfl_module_getsrc(m, addr);
    if (ln)
        file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);

    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(m, addr, &bias);
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
    /* dwarf_getscopes continues past an inlined subroutine with the scopes
     * of its abstract definition; the chain of callers is the physical
     * nesting of the innermost function DIE: take that. */
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine) {
            Dwarf_Die *chain = NULL;
            int nc = dwarf_getscopes_die(&scopes[i], &chain);
            if (nc > 0) {
                free(scopes);
                scopes = chain;
                n = nc;
            } else {
                free(chain);
            }
            break;
        }
        if (tag == DW_TAG_subprogram)
            break;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (cu && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
        files = NULL;
    int printed = 0;
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine) {
            put_frame(die_name(&scopes[i]), file, line, 1);
            printed++;
            /* The caller's line: where this inlined body was called. */
            Dwarf_Attribute a;
            Dwarf_Word cf = 0, cl = 0;
            file = NULL;
            line = 0;
            if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 && files)
                file = dwarf_filesrc(files, cf, NULL, NULL);
            if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0)
                line = (int)cl;
        } else if (tag == DW_TAG_subprogram) {
            const char *nm = symname ? symname : die_name(&scopes[i]);
            put_frame(nm, file, line, 0);
            printed++;
            break;
        }
    }
    if (!printed && (symname || file))
        put_frame(symname, file, line, 0);
    free(scopes);
}

/* ---- data: variables and the place of an address inside them ---- */

/* The type a DIE's DW_AT_type names, false when none (void). */
static bool die_type(Dwarf_Die *die, Dwarf_Die *out)
{
    Dwarf_Attribute a;
    return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out);
}

static uint64_t type_size(Dwarf_Die *type)
{
    Dwarf_Word sz = 0;
    return dwarf_aggregate_size(type, &sz) == 0 ? sz : 0;
}

/* An array's dimensions, outermost first; the number of them (0: none). */
static unsigned array_dims(Dwarf_Die *arr, uint64_t *counts)
{
    Dwarf_Die c;
    unsigned n = 0;
    if (dwarf_child(arr, &c) != 0)
        return 0;
    do {
        if (dwarf_tag(&c) != DW_TAG_subrange_type && dwarf_tag(&c) != DW_TAG_enumeration_type)
            continue;
        if (n == LW_PATH_MAX_DIMS)
            return 0;
        Dwarf_Attribute a;
        Dwarf_Word cnt = 0, ub = 0, lb = 0;
        if (dwarf_attr_integrate(&c, DW_AT_count, &a) && dwarf_formudata(&a, &cnt) == 0) {
            counts[n++] = cnt;
        } else if (dwarf_attr_integrate(&c, DW_AT_upper_bound, &a) &&
                   dwarf_formudata(&a, &ub) == 0) {
            if (dwarf_attr_integrate(&c, DW_AT_lower_bound, &a))
                dwarf_formudata(&a, &lb);
            counts[n++] = ub >= lb ? ub - lb + 1 : 0;
        } else {
            counts[n++] = 0;   /* unknown bound (flexible array member) */
        }
    } while (dwarf_siblingof(&c, &c) == 0);
    return n;
}

/* A member's offset in its struct (a constant; DWARF 2's expression form,
 * DW_OP_plus_uconst, too). */
static bool member_offset(Dwarf_Die *m, uint64_t *off)
{
    Dwarf_Attribute a;
    Dwarf_Word w;
    *off = 0;
    if (!dwarf_attr_integrate(m, DW_AT_data_member_location, &a))
        return dwarf_tag(m) == DW_TAG_member;   /* a union's members: 0 */
    if (dwarf_formudata(&a, &w) == 0) {
        *off = w;
        return true;
    }
    Dwarf_Op *ops;
    size_t nops;
    if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
        ops[0].atom == DW_OP_plus_uconst) {
        *off = ops[0].number;
        return true;
    }
    return false;
}

/* Appends to pa the place of byte `off` inside an object of `type`: array
 * indices and member names, down to a lock type or a scalar.  Sets *atomic
 * when the byte is inside an atomic object: C11 _Atomic (DW_TAG_atomic_type)
 * or a C++ std::atomic, on the way down. */
static void walk_type(Dwarf_Die *type, uint64_t off, lw_path *pa, bool *atomic)
{
    Dwarf_Die t = *type;
    for (unsigned guard = 0; guard < 64; guard++) {
        int tag = dwarf_tag(&t);
        const char *nm = dwarf_diename(&t);
        if (lw_path_is_lock_type(nm))
            break;
        if (tag == DW_TAG_atomic_type ||
            ((tag == DW_TAG_structure_type || tag == DW_TAG_class_type) &&
             lw_atomic_type_name(nm)))
            *atomic = true;
        if (tag == DW_TAG_typedef || tag == DW_TAG_const_type || tag == DW_TAG_volatile_type ||
            tag == DW_TAG_restrict_type || tag == DW_TAG_atomic_type) {
            Dwarf_Die next;
            if (!die_type(&t, &next))
                break;
            t = next;
            continue;
        }
        if (tag == DW_TAG_array_type) {
            uint64_t counts[LW_PATH_MAX_DIMS], rem = 0;
            unsigned nd = array_dims(&t, counts);
            Dwarf_Die elem;
            if (nd == 0 || !die_type(&t, &elem) ||
                !lw_path_index(pa, off, type_size(&elem), counts, nd, &rem))
                break;
            t = elem;
            off = rem;
            continue;
        }
        if (tag == DW_TAG_structure_type || tag == DW_TAG_class_type ||
            tag == DW_TAG_union_type) {
            Dwarf_Die c, best;
            uint64_t best_off = 0;
            bool found = false, best_lock = false;
            if (dwarf_child(&t, &c) == 0) {
                do {
                    int ct = dwarf_tag(&c);
                    if (ct != DW_TAG_member && ct != DW_TAG_inheritance)
                        continue;
                    Dwarf_Attribute a;
                    if (dwarf_attr_integrate(&c, DW_AT_external, &a) ||
                        dwarf_attr_integrate(&c, DW_AT_declaration, &a))
                        continue;   /* a static member: not in the object */
                    uint64_t mo;
                    Dwarf_Die mt, peeled;
                    if (!member_offset(&c, &mo) || !die_type(&c, &mt) || off < mo ||
                        off - mo >= type_size(&mt))
                        continue;
                    /* Of a union's members covering the offset, a lock. */
                    bool lk = dwarf_peel_type(&mt, &peeled) == 0 &&
                              (lw_path_is_lock_type(dwarf_diename(&mt)) ||
                               lw_path_is_lock_type(dwarf_diename(&peeled)));
                    if (!found || (lk && !best_lock)) {
                        best = c;
                        best_off = mo;
                        best_lock = lk;
                        found = true;
                    }
                    if (tag != DW_TAG_union_type || lk)
                        break;
                } while (dwarf_siblingof(&c, &c) == 0);
            }
            if (!found)
                break;
            if (dwarf_tag(&best) == DW_TAG_member)
                lw_path_member(pa, dwarf_diename(&best));
            off -= best_off;
            if (!die_type(&best, &t))
                break;
            continue;
        }
        break;
    }
    lw_path_offset(pa, off);
}

/* A DW_OP_addr location's address. */
static bool static_address(Dwarf_Die *var, Dwarf_Addr *addr)
{
    Dwarf_Attribute a;
    Dwarf_Op *ops;
    size_t nops;
    if (!dwarf_attr(var, DW_AT_location, &a) || dwarf_getlocation(&a, &ops, &nops) != 0 ||
        nops < 1 || ops[0].atom != DW_OP_addr)
        return false;
    /* DW_OP_addr alone, or followed by TLS ops (not a place we name). */
    if (nops != 1)
        return false;
    *addr = ops[0].number;
    return true;
}

typedef struct {
    var_ent *v;
    size_t n, cap;
} var_vec;

static void index_scope(Dwarf_Die *parent, Dwarf_Off fn, var_vec *vv, unsigned depth,
                        bool into_functions)
{
    Dwarf_Die c;
    if (depth > 32 || dwarf_child(parent, &c) != 0)
        return;
    do {
        int tag = dwarf_tag(&c);
        if (tag == DW_TAG_variable) {
            Dwarf_Addr addr;
            Dwarf_Die type;
            if (!static_address(&c, &addr) || !die_type(&c, &type))
                continue;
            uint64_t sz = type_size(&type);
            if (vv->n == vv->cap) {
                size_t cap = vv->cap ? vv->cap * 2 : 256;
                var_ent *nv = realloc(vv->v, cap * sizeof(*nv));
                if (!nv)
                    return;
                vv->v = nv;
                vv->cap = cap;
            }
            vv->v[vv->n++] = (var_ent){ addr, sz ? sz : 1, dwarf_dieoffset(&c), fn };
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_structure_type ||
                   tag == DW_TAG_class_type) {
            index_scope(&c, fn, vv, depth + 1, into_functions);
        } else if (into_functions && (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
                                      tag == DW_TAG_inlined_subroutine)) {
            Dwarf_Off f = tag == DW_TAG_subprogram ? dwarf_dieoffset(&c) : fn;
            index_scope(&c, f, vv, depth + 1, into_functions);
        }
    } while (dwarf_siblingof(&c, &c) == 0);
}

static int var_cmp(const void *a, const void *b)
{
    const var_ent *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Level 1: variables at namespace scope (the DIE trees of functions, most
 * of a module's DWARF, are skipped); level 2: functions' statics too, built
 * only when level 1 does not hold the address. */
static void index_module(int mi, int level)
{
    var_vec vv = { NULL, 0, 0 };
    mods[mi].indexed = level;
    free(mods[mi].vars);
    mods[mi].vars = NULL;
    mods[mi].nvars = 0;
    if (!mods[mi].mod)
        return;
    Dwarf_Addr bias;
    Dwarf_Die *cu = NULL;
    while ((cu = dwfl_module_nextcu(mods[mi].mod, cu, &bias)) != NULL)
        index_scope(cu, 0, &vv, 0, level == 2);
    if (vv.n)
        qsort(vv.v, vv.n, sizeof(*vv.v), var_cmp);
    mods[mi].vars = vv.v;
    mods[mi].nvars = vv.n;
}

/* The innermost variable containing addr (a static member array inside a
 * class and the like do not overlap; the last one starting at or before
 * addr that covers it). */
static const var_ent *find_var(int mi, Dwarf_Addr addr)
{
    size_t lo = 0, hi = mods[mi].nvars;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mods[mi].vars[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0;) {
        const var_ent *v = &mods[mi].vars[i];
        if (addr - v->lo < v->size)
            return v;
        if (lo - i > 64)
            break;
    }
    return NULL;
}

static void put_str(const char *s)
{
    for (; s && *s; s++)
        putchar(*s == '\t' || *s == '\n' ? ' ' : *s);
}

/* "fn::" for a static inside function fn (its plain name). */
static void put_scope(Dwarf *dw, Dwarf_Off fn)
{
    Dwarf_Die f;
    const char *n;
    if (fn && dwarf_offdie(dw, fn, &f) && (n = dwarf_diename(&f)) != NULL) {
        put_str(n);
        fputs("::", stdout);
    }
}

static void answer_data(uint64_t addr, const char *path)
{
    int mi = module_index(path);
    if (mi < 0 || !mods[mi].mod)
        return;
    Dwfl_Module *m = mods[mi].mod;
    if (!mods[mi].indexed)
        index_module(mi, 1);
    GElf_Sym sym;
    GElf_Off soff = 0;
    const char *symname = dwfl_module_addrinfo(m, addr, &soff, &sym, NULL, NULL, NULL);
    if (symname && GELF_ST_TYPE(sym.st_info) != STT_OBJECT && GELF_ST_TYPE(sym.st_info) != STT_TLS)
        symname = NULL;
    char *dem = symname && symname[0] == '_' && symname[1] == 'Z'
                    ? cplus_demangle(symname, DMGL_PARAMS | DMGL_ANSI) : NULL;
    Dwarf_Addr bias = 0;
    Dwarf *dw = dwfl_module_getdwarf(m, &bias);
    const var_ent *v = dw ? find_var(mi, addr - bias) : NULL;
    if (dw && !v && mods[mi].indexed == 1) {
        index_module(mi, 2);
        v = find_var(mi, addr - bias);
    }
    Dwarf_Die var, type;
    if (v && dwarf_offdie(dw, v->die, &var)) {
        char pbuf[1024];
        lw_path pa;
        bool atomic = false;
        lw_path_init(&pa, pbuf, sizeof(pbuf));
        if (die_type(&var, &type))
            walk_type(&type, addr - bias - v->lo, &pa, &atomic);
        Dwarf_Attribute a;
        bool external = false;
        if (dwarf_attr_integrate(&var, DW_AT_external, &a) && dwarf_formflag(&a, &external) != 0)
            external = false;
        bool is_static = !external || v->scope;
        fputs("V\t", stdout);
        /* The ELF symbol names the object qualified (C++) unless it is a
         * function's static ("lock.1"): then the DWARF name, scoped. */
        if (symname && !strchr(symname, '.') && soff == addr - bias - v->lo) {
            put_str(dem ? dem : symname);
            putchar('\t');
            put_str(dem ? symname : "");
        } else {
            put_scope(dw, v->scope);
            put_str(dwarf_diename(&var) ? dwarf_diename(&var) : symname);
            putchar('\t');
        }
        putchar('\t');
        put_str(pbuf);
        putchar('\t');
        int line = 0;
        put_str(dwarf_decl_file(&var));
        dwarf_decl_line(&var, &line);
        printf("\t%d\t%d\t%d\n", line, is_static ? 1 : 0, atomic ? 1 : 0);
    } else if (symname) {
        printf("V\t");
        put_str(dem ? dem : symname);
        putchar('\t');
        put_str(dem ? symname : "");
        putchar('\t');
        if (soff)
            printf("+0x%llx", (unsigned long long)soff);
        printf("\t\t0\t%d\t0\n", GELF_ST_BIND(sym.st_info) == STB_LOCAL);
    }
    free(dem);
}

/* ---- local: a variable in a frame ---- */

/* Whether fn's frame base is the canonical frame address. */
static bool frame_base_is_cfa(Dwarf_Die *fn)
{
    Dwarf_Attribute a;
    Dwarf_Op *ops;
    size_t nops;
    return dwarf_attr_integrate(fn, DW_AT_frame_base, &a) &&
           dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
           ops[0].atom == DW_OP_call_frame_cfa;
}

static void answer_local(uint64_t pc, int64_t cfa_off, const char *path)
{
    Dwfl_Module *m = module(path);
    if (!m)
        return;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(m, pc, &bias);
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, pc - bias, &scopes) : 0;
    /* The function whose frame it is: the outermost subprogram scope (the
     * frame of an inlined body is its caller's). */
    int fi = -1;
    for (int i = 0; i < n; i++)
        if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
            fi = i;
            break;
        }
    if (fi < 0 || !frame_base_is_cfa(&scopes[fi])) {
        free(scopes);
        return;
    }
    for (int i = 0; i <= fi; i++) {
        Dwarf_Die c;
        if (dwarf_child(&scopes[i], &c) != 0)
            continue;
        do {
            int tag = dwarf_tag(&c);
            if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
                continue;
            Dwarf_Attribute a;
            Dwarf_Op *ops;
            size_t nops;
            Dwarf_Die type;
            if (!dwarf_attr(&c, DW_AT_location, &a) ||
                dwarf_getlocation_addr(&a, pc - bias, &ops, &nops, 1) != 1 || nops != 1 ||
                ops[0].atom != DW_OP_fbreg || !die_type(&c, &type))
                continue;
            int64_t at = (int64_t)ops[0].number;
            uint64_t sz = type_size(&type);
            if (cfa_off < at || (uint64_t)(cfa_off - at) >= sz)
                continue;
            char pbuf[1024];
            lw_path pa;
            bool atomic = false;
            lw_path_init(&pa, pbuf, sizeof(pbuf));
            walk_type(&type, (uint64_t)(cfa_off - at), &pa, &atomic);
            const char *fname = die_name(&scopes[fi]);
            char *dem = fname && fname[0] == '_' && fname[1] == 'Z'
                            ? cplus_demangle(fname, DMGL_PARAMS | DMGL_ANSI) : NULL;
            fputs("L\t", stdout);
            put_str(dem ? dem : fname);
            putchar('\t');
            put_str(dwarf_diename(&c));
            putchar('\t');
            put_str(pbuf);
            putchar('\t');
            int line = 0;
            put_str(dwarf_decl_file(&c));
            dwarf_decl_line(&c, &line);
            printf("\t%d\t%d\n", line, atomic ? 1 : 0);
            free(dem);
            free(scopes);
            return;
        } while (dwarf_siblingof(&c, &c) == 0);
    }
    free(scopes);
}

int main(void)
{
    char buf[8192];
    /* The library closes its end when it is done; a write to it after the
     * library's process died must end this process quietly. */
    signal(SIGPIPE, SIG_DFL);
    /* liblockwatch starts this with every signal blocked. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (fgets(buf, sizeof(buf), stdin)) {
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = 0;
        char *sp = strchr(buf, ' ');
        if (strncmp(buf, "data ", 5) == 0) {
            char *p = buf + 5, *end;
            uint64_t a = strtoull(p, &end, 16);
            if (*end == ' ')
                answer_data(a, end + 1);
        } else if (strncmp(buf, "local ", 6) == 0) {
            char *p = buf + 6, *end, *end2;
            uint64_t pc = strtoull(p, &end, 16);
            long long off = *end == ' ' ? strtoll(end + 1, &end2, 10) : 0;
            if (*end == ' ' && *end2 == ' ')
                answer_local(pc, off, end2 + 1);
        } else if (sp) {
            *sp = 0;
            answer(strtoull(buf, NULL, 16), sp + 1);
        }
        fputs("END\n", stdout);
        fflush(stdout);
    }
    return 0;
}
