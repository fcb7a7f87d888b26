/*
 * suppress.h: suppression rules (LOCKWATCH_SUPPRESSIONS; the format is in
 * lockwatch(5)).  One rule a line:
 *
 *     KIND:GLOB              a finding of KIND (or * for any kind) with a
 *                            frame, in any of its stacks, whose function
 *                            name, module path or module file name GLOB
 *                            matches (* ? [...] as in a shell)
 *     fingerprint:HEX        exactly the finding with that fingerprint
 *     KIND:fingerprint:HEX   the same, of that kind only
 *     # comment              (and blank lines)
 *
 * The sink asks lw_supp_match() for every new finding; a matched one is
 * counted against its rule, not written and not counted for the exit
 * status.  Rules are read once, at start-up, with raw system calls, into
 * lockwatch's arena.  A malformed line costs one error line naming
 * FILE:LINE and is skipped; the other rules still apply.
 */
#ifndef LW_SUPPRESS_H
#define LW_SUPPRESS_H

#include "finding.h"

#define LW_MAX_SUPPRESSIONS 4096     /* rules over all files */
#define LW_SUPP_FILE_MAX    (1u << 20)   /* bytes read of one file */

/* Reads the ':'-separated files of `paths` (may be empty).  Returns the
 * number of rules kept. */
unsigned lw_supp_load(const char *paths);
/* Parses the n bytes at buf (a file's contents, n + 1 bytes writable: the
 * parser cuts lines in place and sets buf[n] to NUL; buf and name must
 * outlive the rules, which point into them) as the rules of file `name`,
 * after those already kept.  lw_supp_load's parser for each file, and the
 * fuzz target's entry (fuzz/).  Returns the number of rules kept. */
unsigned lw_supp_parse(char *buf, size_t n, const char *name);
/* Forgets every rule (fuzzing; single-threaded, before any match).  The
 * memory they used is not returned. */
void lw_supp_reset(void);
/* The index of the first rule matching f, or -1. */
int lw_supp_match(const lw_finding *f);
/* Counts a finding against rule i. */
void lw_supp_hit(int i);
/* Writes the rule that would silence f into out (one line, no newline):
 * KIND:FUNCTION of the first frame of its first stack that has a function
 * name, else fingerprint:HEX.  f->fingerprint must be set. */
void lw_supp_suggest(const lw_finding *f, char *out, size_t cap);
/* One "lockwatch: N finding(s) suppressed: ..." line to the warning
 * stream, naming each rule that matched (FILE:LINE and its text), if any
 * finding was suppressed.  Once per process. */
void lw_supp_summary(void);

/* Glob matching as fnmatch(3) without flags (no allocation): * any run,
 * ? any character, [abc] [a-z] [!x] a set. */
bool lw_glob(const char *pat, const char *s);

#endif
