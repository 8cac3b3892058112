/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, amc, __VA_ARGS__)
// Docstrings for input_state.h (copied as input_state_pydoc.h at build time).

static const char* __doc_gr_amc_input_state = R"doc(input_state(reader) -> (done, items_available)

State of one input of a running block, read together under the buffer's lock: reader is
block.detail().input(i) (inside work/forecast); done is True once the upstream block has
finished (no item will ever be added), items_available counts the items waiting (history items
included). When done is True, items_available is final.)doc";
