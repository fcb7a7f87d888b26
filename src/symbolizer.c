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
 */
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <libiberty/demangle.h>

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
static struct {
    char *path;
    Dwfl *dwfl;
    Dwfl_Module *mod;
} mods[MAX_MODULES];
static int nmods;

static Dwfl_Module *module(const char *path)
{
    for (int i = 0; i < nmods; i++)
        if (strcmp(mods[i].path, path) == 0)
            return mods[i].mod;
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
        nmods++;
    }
    return m;
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
        if (sp) {
            *sp = 0;
            answer(strtoull(buf, NULL, 16), sp + 1);
        }
        fputs("END\n", stdout);
        fflush(stdout);
    }
    return 0;
}
