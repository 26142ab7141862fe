namespace EsoLM.Tests.Support;

/// <summary>
/// Entry point of the test assembly when a test starts it as a separate process (<c>dotnet exec EsoLM.Tests.dll …</c>);
/// the test runner itself never calls it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["mlnet-load", var zip, var output])
        {
            ML.MlRoundTrip.RunChild(zip, output);
            return 0;
        }

        Console.Error.WriteLine("usage: EsoLM.Tests mlnet-load <zip> <output>");
        return 2;
    }
}
