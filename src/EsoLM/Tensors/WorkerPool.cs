namespace EsoLM.Tensors;

/// <summary>
/// A tiny allocation-free fork/join pool for kernels: persistent background workers (one per extra core) pull task
/// indices from a shared counter while the calling thread works too. One job runs at a time; a call that finds the pool
/// busy (another thread, or a nested call) simply runs its tasks inline on the calling thread.
/// </summary>
/// <remarks>
/// The caller never waits for a worker that has not started: once the caller has drained the task counter it closes the
/// job, and only workers that joined before that are waited for. A worker the OS has not scheduled yet (the machine is
/// busy) therefore costs nothing. The task function gets a pointer to an argument struct on the caller's stack, which
/// stays valid because the caller returns only after every joined worker has left the job.
/// </remarks>
internal static unsafe class WorkerPool
{
    private const int ClosedBit = 1 << 30;

    private static readonly int WorkerCount = Math.Max(0, Environment.ProcessorCount - 1);
    private static readonly ManualResetEventSlim[] StartSignals = CreateWorkers();
    private static readonly ManualResetEventSlim DoneSignal = new(false, 100);

    private static int _busy;
    private static delegate*<void*, int, void> _function;
    private static void* _arguments;
    private static int _taskCount;
    private static int _next;

    // Number of workers inside the current job, plus ClosedBit once the caller has closed it.
    private static int _state = ClosedBit;

    /// <summary>Threads the pool can use, including the caller.</summary>
    public static int MaxThreads => WorkerCount + 1;

    /// <summary>Runs <paramref name="function"/>(<paramref name="arguments"/>, t) for t in [0, <paramref name="taskCount"/>) on up to <paramref name="maxThreads"/> threads.</summary>
    public static void Run(int maxThreads, int taskCount, delegate*<void*, int, void> function, void* arguments)
    {
        int helpers = Math.Min(Math.Min(maxThreads - 1, WorkerCount), taskCount - 1);
        if (helpers <= 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int t = 0; t < taskCount; t++)
            {
                function(arguments, t);
            }

            return;
        }

        try
        {
            _function = function;
            _arguments = arguments;
            _taskCount = taskCount;
            _next = 0;
            DoneSignal.Reset();
            Volatile.Write(ref _state, 0); // opens the job (release: the fields above are visible to joiners)
            for (int i = 0; i < helpers; i++)
            {
                StartSignals[i].Set();
            }

            Drain(function, arguments, taskCount);
            int before = Interlocked.Or(ref _state, ClosedBit);
            if (before != 0)
            {
                DoneSignal.Wait();
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Drain(delegate*<void*, int, void> function, void* arguments, int taskCount)
    {
        int t;
        while ((t = Interlocked.Increment(ref _next) - 1) < taskCount)
        {
            function(arguments, t);
        }
    }

    private static bool TryJoin()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if ((s & ClosedBit) != 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _state, s + 1, s) == s)
            {
                return true;
            }
        }
    }

    private static ManualResetEventSlim[] CreateWorkers()
    {
        var signals = new ManualResetEventSlim[WorkerCount];
        for (int i = 0; i < WorkerCount; i++)
        {
            signals[i] = new ManualResetEventSlim(false, 100);
            var signal = signals[i];
            var thread = new Thread(() => WorkerLoop(signal))
            {
                IsBackground = true,
                Name = "EsoLM kernel worker " + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            thread.Start();
        }

        return signals;
    }

    private static void WorkerLoop(ManualResetEventSlim start)
    {
        while (true)
        {
            start.Wait();
            start.Reset();
            if (!TryJoin())
            {
                continue; // Woke after the caller finished the job alone.
            }

            Drain(_function, _arguments, _taskCount);
            if (Interlocked.Decrement(ref _state) == ClosedBit)
            {
                DoneSignal.Set();
            }
        }
    }
}
