using System.Runtime.CompilerServices;

namespace EsoLM.Tensors;

/// <summary>A unit of parallel work: task <c>t</c> of a loop. Implemented by structs so dispatch allocates nothing.</summary>
internal interface ITaskBody
{
    /// <summary>Runs task <paramref name="task"/>.</summary>
    void Run(int task);
}

/// <summary>
/// Runs independent tasks on the engine's worker pool without allocating (no closures, no Parallel.For bookkeeping): the
/// body is a struct on the caller's stack, passed to the workers by pointer for the duration of the call.
/// </summary>
internal static unsafe class ParallelTasks
{
    /// <summary>Runs body.Run(t) for t in [0, <paramref name="tasks"/>) on up to the context's thread count.</summary>
    public static void Run<T>(ComputeContext context, int tasks, ref T body)
        where T : struct, ITaskBody => Run(context.MaxDegreeOfParallelism, tasks, ref body);

    /// <summary>Runs body.Run(t) for t in [0, <paramref name="tasks"/>) on up to <paramref name="maxThreads"/> threads.</summary>
    public static void Run<T>(int maxThreads, int tasks, ref T body)
        where T : struct, ITaskBody
    {
        if (maxThreads <= 1 || tasks <= 1)
        {
            for (int t = 0; t < tasks; t++)
            {
                body.Run(t);
            }

            return;
        }

        WorkerPool.Run(maxThreads, tasks, &Invoke<T>, Unsafe.AsPointer(ref body));
    }

    private static void Invoke<T>(void* body, int task)
        where T : struct, ITaskBody => Unsafe.AsRef<T>(body).Run(task);
}
