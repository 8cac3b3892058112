/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_INPUT_STATE_H
#define INCLUDED_AMC_INPUT_STATE_H

#include <gnuradio/amc/api.h>
#include <gnuradio/buffer_reader.h>

namespace gr {
namespace amc {

/*!
 * \brief What the scheduler knows about one input of a block.
 *
 * GNU Radio's Python bindings expose a block's input readers (block.detail().input(i)) but none
 * of their methods, so a Python block cannot tell that its upstream has finished. Blocks that
 * hold samples back (the classifier keeps the samples of a frame until the frame is classified)
 * need exactly that to flush at the end of a finite stream.
 */
struct input_state {
    bool done;           //!< the upstream block has finished: no item will ever be added
    int items_available; //!< items waiting to be read (history items included)
};

/*!
 * \brief Reads done and items_available of \p reader together, under the buffer's lock.
 *
 * done is read first: when it is true, items_available is the final count (an upstream block
 * marks itself done only after producing its last items).
 */
AMC_API input_state read_input_state(gr::buffer_reader& reader);

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_INPUT_STATE_H */
