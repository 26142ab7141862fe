using EsoLM.Tensors;

namespace EsoLM.Tests.Tensors;

public sealed unsafe class WorkerPoolTests
{
    private static int[]? _hits;

    [Fact]
    public void Runs_every_task_exactly_once()
    {
        for (int round = 0; round < 50; round++)
        {
            int count = 1 + (round * 7 % 40);
            _hits = new int[count];
            WorkerPool.Run(2, count, &Hit, null);
            Assert.All(_hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void A_failing_task_surfaces_and_the_pool_keeps_working()
    {
        for (int round = 0; round < 10; round++)
        {
            Assert.Throws<InvalidOperationException>(() => WorkerPool.Run(2, 16, &Fail, null));
        }

        _hits = new int[32];
        WorkerPool.Run(2, 32, &Hit, null);
        Assert.All(_hits, h => Assert.Equal(1, h));
    }

    private static void Hit(void* args, int task) => Interlocked.Increment(ref _hits![task]);

    private static void Fail(void* args, int task)
    {
        Thread.SpinWait(2000);
        if (task % 5 == 3)
        {
            throw new InvalidOperationException("task " + task);
        }
    }
}
