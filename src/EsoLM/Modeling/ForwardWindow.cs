using EsoLM.Backends;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>One sequence's window in a <see cref="ForwardBatch"/>.</summary>
/// <param name="Cache">The sequence's cache (allocated by the network the batch is run on).</param>
/// <param name="WriteSlot">Cache slot of the window's first row; rows are written at consecutive slots.</param>
/// <param name="RowStart">Index of the window's first row in the batch's row arrays.</param>
/// <param name="RowCount">Rows in the window.</param>
/// <param name="OutputStart">First window row whose output is returned.</param>
/// <param name="OutputCount">Consecutive rows whose output is returned.</param>
/// <param name="OutputRowStart">Row of the output buffer where this window's first output row goes.</param>
public readonly record struct ForwardWindow(IKvCache Cache, int WriteSlot, int RowStart, int RowCount, int OutputStart, int OutputCount,
    int OutputRowStart);
