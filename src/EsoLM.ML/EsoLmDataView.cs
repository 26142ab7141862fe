using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// The lazy output of an Eso-LM stage: the input's columns plus the stage's. Nothing is computed until a cursor's getter
/// of an added column is called; then the cursor reads the stage's inputs of the next <see cref="EsoLmStage.BatchSize"/>
/// rows through a second input cursor and computes them as one batch.
/// </summary>
internal sealed class EsoLmDataView : IDataView
{
    private readonly IDataView _input;
    private readonly EsoLmStage _stage;
    private readonly BoundInputs _bound;

    public EsoLmDataView(IDataView input, EsoLmStage stage)
    {
        _input = input;
        _stage = stage;
        _bound = stage.Bind(input.Schema);
        Schema = stage.OutputSchema(input.Schema);
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var needed = columnsNeeded.ToArray();
        int inputCount = _input.Schema.Count;
        var passThrough = needed.Where(c => c.Index < inputCount).Select(c => _input.Schema[c.Index]).ToArray();
        var ours = new bool[_stage.OutputNames.Length];
        foreach (var c in needed.Where(c => c.Index >= inputCount))
        {
            ours[c.Index - inputCount] = true;
        }

        var main = _input.GetRowCursor(passThrough);
        DataViewRowCursor? lookahead = ours.Any(x => x) ? _input.GetRowCursor(InputColumns(_input.Schema, _bound)) : null;
        return new Cursor(this, main, lookahead, ours);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    internal static DataViewSchema.Column[] InputColumns(DataViewSchema schema, BoundInputs bound) =>
        [.. new[] { bound.TextColumn, bound.SeedColumn }.Where(i => i >= 0).Select(i => schema[i])];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly EsoLmDataView _parent;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookahead;
        private readonly RowReader? _reader;
        private readonly bool[] _active;
        private RowOutput[] _batch = [];
        private long _batchStart;
        private long _position = -1;

        public Cursor(EsoLmDataView parent, DataViewRowCursor main, DataViewRowCursor? lookahead, bool[] active)
        {
            _parent = parent;
            _main = main;
            _lookahead = lookahead;
            _active = active;
            _reader = lookahead is null ? null : new RowReader(lookahead, parent._bound, parent._stage.BaseSeed);
        }

        public override DataViewSchema Schema => _parent.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (!_main.MoveNext())
            {
                return false;
            }

            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
        {
            int inputCount = _parent._input.Schema.Count;
            return column.Index < inputCount ? _main.IsColumnActive(_parent._input.Schema[column.Index]) : _active[column.Index - inputCount];
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _parent._input.Schema.Count;
            if (column.Index < inputCount)
            {
                return _main.GetGetter<TValue>(_parent._input.Schema[column.Index]);
            }

            int output = column.Index - inputCount;
            if (!_active[output])
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            }

            RowMapping.CheckType<TValue>(_parent._stage, output, column);
            return (ref TValue value) => _parent._stage.Get(output, Current(), ref value);
        }

        private RowOutput Current()
        {
            if (_position < 0)
            {
                throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
            }

            if (_position >= _batchStart + _batch.Length)
            {
                Fill();
            }

            return _batch[_position - _batchStart];
        }

        private void Fill()
        {
            var lookahead = _lookahead!;
            while (lookahead.Position < _position - 1)
            {
                if (!lookahead.MoveNext())
                {
                    throw new InvalidOperationException("The input ended early: its cursors disagree on the number of rows.");
                }
            }

            var rows = new List<RowInput>(_parent._stage.BatchSize);
            while (rows.Count < _parent._stage.BatchSize && lookahead.MoveNext())
            {
                rows.Add(_reader!.Read());
            }

            if (rows.Count == 0)
            {
                throw new InvalidOperationException("The input ended early: its cursors disagree on the number of rows.");
            }

            _batchStart = _position;
            _batch = _parent._stage.Compute(rows);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _lookahead?.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>Reads a stage's inputs from the current row of a cursor or row.</summary>
internal sealed class RowReader
{
    private readonly DataViewRow _row;
    private readonly ValueGetter<ReadOnlyMemory<char>>? _text;
    private readonly Func<ulong>? _seed;
    private readonly ulong? _baseSeed;

    public RowReader(DataViewRow row, BoundInputs bound, ulong? baseSeed)
    {
        _row = row;
        _baseSeed = baseSeed;
        var schema = row.Schema;
        if (bound.TextColumn >= 0)
        {
            _text = row.GetGetter<ReadOnlyMemory<char>>(schema[bound.TextColumn]);
        }

        if (bound.SeedColumn >= 0)
        {
            var column = schema[bound.SeedColumn];
            _seed = column.Type.RawType == typeof(int) ? Seed<int>(row, column, v => unchecked((ulong)v))
                : column.Type.RawType == typeof(long) ? Seed<long>(row, column, v => unchecked((ulong)v))
                : column.Type.RawType == typeof(uint) ? Seed<uint>(row, column, v => v)
                : Seed<ulong>(row, column, v => v);
        }
    }

    public RowInput Read()
    {
        string text = string.Empty;
        if (_text is not null)
        {
            ReadOnlyMemory<char> value = default;
            _text(ref value);
            text = value.ToString();
        }

        ulong seed = _seed?.Invoke() ?? unchecked((_baseSeed ?? 0) + (ulong)_row.Position);
        return new RowInput(text, seed);
    }

    private static Func<ulong> Seed<T>(DataViewRow row, DataViewSchema.Column column, Func<T, ulong> convert)
    {
        var getter = row.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            return convert(value);
        };
    }
}

/// <summary>The row-to-row path (<c>CreatePredictionEngine</c>): one row at a time, computed once per row position.</summary>
internal sealed class RowMapping : IRowToRowMapper
{
    private readonly EsoLmStage _stage;
    private readonly BoundInputs _bound;

    public RowMapping(EsoLmStage stage, DataViewSchema inputSchema)
    {
        _stage = stage;
        _bound = stage.Bind(inputSchema);
        InputSchema = inputSchema;
        OutputSchema = stage.OutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        ArgumentNullException.ThrowIfNull(dependingColumns);
        var columns = dependingColumns.ToArray();
        var result = columns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (columns.Any(c => c.Index >= InputSchema.Count))
        {
            result.AddRange(EsoLmDataView.InputColumns(InputSchema, _bound));
        }

        return result.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        var active = new bool[_stage.OutputNames.Length];
        foreach (var c in activeColumns.Where(c => c.Index >= InputSchema.Count))
        {
            active[c.Index - InputSchema.Count] = true;
        }

        return new Row(this, input, active);
    }

    internal static void CheckType<TValue>(EsoLmStage stage, int output, DataViewSchema.Column column)
    {
        if (typeof(TValue) != stage.OutputTypes[output].RawType)
        {
            throw new InvalidOperationException(
                $"Column '{column.Name}' holds {stage.OutputTypes[output]}; it cannot be read as {typeof(TValue).Name}.");
        }
    }

    private sealed class Row : DataViewRow
    {
        private readonly RowMapping _parent;
        private readonly DataViewRow _input;
        private readonly bool[] _active;
        private readonly RowReader? _reader;
        private long _computedAt = -1;
        private RowOutput _value;

        public Row(RowMapping parent, DataViewRow input, bool[] active)
        {
            _parent = parent;
            _input = input;
            _active = active;
            _reader = active.Any(x => x) ? new RowReader(input, parent._bound, parent._stage.BaseSeed) : null;
        }

        public override DataViewSchema Schema => _parent.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < _parent.InputSchema.Count ? _input.IsColumnActive(_parent.InputSchema[column.Index]) : _active[column.Index - _parent.InputSchema.Count];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _parent.InputSchema.Count;
            if (column.Index < inputCount)
            {
                return _input.GetGetter<TValue>(_parent.InputSchema[column.Index]);
            }

            int output = column.Index - inputCount;
            if (!_active[output])
            {
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
            }

            CheckType<TValue>(_parent._stage, output, column);
            return (ref TValue value) =>
            {
                if (_computedAt != _input.Position || _computedAt < 0)
                {
                    _value = _parent._stage.Compute([_reader!.Read()])[0];
                    _computedAt = _input.Position;
                }

                _parent._stage.Get(output, _value, ref value);
            };
        }
    }
}
