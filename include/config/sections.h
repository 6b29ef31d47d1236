/*
 * sections.h - the section loaders: each converts one section of a loaded
 * file (or the top level of the main file) into its part of struct config,
 * setting defaults first and reporting every problem through the section
 * reader (section.h) as "FILE:LINE: SECTION: message".
 *
 * The loaders are in sections.c, except the receiver loader, which is
 * table-driven (receiver_type.h) and lives in receivers.c, and the export
 * loader (exports.c).  config.c
 * decides which sections to load, in which order, and checks what spans
 * sections (duplicate rules across files, the whole configuration).
 *
 * Ownership: each loader fills *out completely (it need not be
 * initialised) with strings *out then owns; config_free() releases them.
 * A section's name, file and line in *out point into the config.
 * Errors: reported to file->diags; *out is always usable (defaults where
 * a value was invalid).  Thread safety: none; one loader per thread.
 */
#ifndef SEGALERT_CONFIG_SECTIONS_H
#define SEGALERT_CONFIG_SECTIONS_H

#include "config/config.h"
#include "config/section.h"

struct cfg_t;

/* The top-level options of the main file (s opened with no name). */
void sections_load_globals(const struct cfg_section *s, struct config *cfg);

void sections_load_workspace(const struct cfg_file *file, struct cfg_t *sec,
                             struct workspace_cfg *out);

/* The defaults section: updates cfg->defaults in place. */
void sections_load_defaults(const struct cfg_file *file, struct cfg_t *sec,
                            struct timing_cfg *defaults);

/* receivers.c */
void sections_load_receiver(const struct cfg_file *file, struct cfg_t *sec,
                            struct receiver_cfg *out);

/* cfg: the receivers (to resolve receiver = ...) and defaults loaded
 * already. */
void sections_load_route(const struct cfg_file *file, struct cfg_t *sec,
                         const struct config *cfg, struct route_cfg *out);

void sections_load_rule(const struct cfg_file *file, struct cfg_t *sec,
                        struct rule_cfg *out);

/* exports.c: an export section (the intake types and their options). */
void sections_load_export(const struct cfg_file *file, struct cfg_t *sec,
                          struct export_cfg *out);

#endif
