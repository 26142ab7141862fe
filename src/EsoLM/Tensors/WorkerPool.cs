using System.Diagnostics;

namespace EsoLM.Tensors;

/// <summary>
/// A tiny allocation-free fork/join pool for kernels: persistent background workers (one per extra core) pull task
/// indices from a shared counter while the calling thread works too. One job runs at a time; a call that finds the pool
/// busy (another thread, or a nested call) simply runs its tasks inline on the calling thread.
/// </summary>
/// <remarks>
/// <para>The caller never waits for a worker that has not started: once the caller has drained the task counter it
/// closes the job, and only workers that joined before that are waited for. A worker the OS has not scheduled yet (the
/// machine is busy) therefore costs nothing.</para>
/// <para>After a job a worker spins for <see cref="SpinMicroseconds"/> before sleeping on its event, so the back-to-back
/// kernel calls of a forward pass find it awake (no futex wake-up per GEMV).</para>
/// <para>The task function gets a pointer to an argument struct on the caller's stack, which stays valid because the
/// caller returns only after every joined worker has left the job.</para>
/// </remarks>
internal static unsafe class WorkerPool
{
    /// <summary>How long an idle worker spins before blocking.</summary>
    public const int SpinMicroseconds = 100;

    private const int ClosedBit = 1 << 30;

    private static readonly int WorkerCount = Math.Max(0, Environment.ProcessorCount - 1);
    private static readonly long SpinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
    private static readonly int[] Sleeping = new int[Math.Max(1, WorkerCount)];
    private static readonly ManualResetEventSlim[] WakeSignals = CreateWorkers();

    private static int _busy;
    private static delegate*<void*, int, void> _function;
    private static void* _arguments;
    private static int _taskCount;
    private static int _next;
    private static int _generation;
    private static System.Runtime.ExceptionServices.ExceptionDispatchInfo? _error;

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
            Volatile.Write(ref _state, 0); // opens the job (release: the fields above are visible to joiners)
            Interlocked.Increment(ref _generation); // full fence, then look for sleepers (pairs with the worker's fence)
            for (int i = 0; i < helpers; i++)
            {
                if (Volatile.Read(ref Sleeping[i]) != 0)
                {
                    WakeSignals[i].Set();
                }
            }

            try
            {
                Drain(function, arguments, taskCount);
            }
            finally
            {
                // Even when a task threw: the arguments live on this stack, so wait for every joined worker.
                if (Interlocked.Or(ref _state, ClosedBit) != 0)
                {
                    var spin = default(SpinWait);
                    while (Volatile.Read(ref _state) != ClosedBit)
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                }
            }

            var error = Interlocked.Exchange(ref _error, null);
            error?.Throw();
        }
        finally
        {
            _error = null;
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
            signals[i] = new ManualResetEventSlim(false, 1);
            int index = i;
            var thread = new Thread(() => WorkerLoop(index))
            {
                IsBackground = true,
                Name = "EsoLM kernel worker " + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            thread.Start();
        }

        return signals;
    }

    private static void WorkerLoop(int index)
    {
        var signal = WakeSignals[index];
        int seen = 0;
        while (true)
        {
            int generation;
            long idleSince = Stopwatch.GetTimestamp();
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }

                Volatile.Write(ref Sleeping[index], 1);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _generation) == seen)
                {
                    signal.Wait();
                }

                signal.Reset();
                Volatile.Write(ref Sleeping[index], 0);
                idleSince = Stopwatch.GetTimestamp();
            }

            seen = generation;
            if (TryJoin())
            {
                try
                {
                    Drain(_function, _arguments, _taskCount);
                }
#pragma warning disable CA1031 // A worker must survive a failing task; the caller rethrows it.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Interlocked.CompareExchange(ref _error, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e), null);
                }
                finally
                {
                    Interlocked.Decrement(ref _state);
                }
            }
        }
    }
}
