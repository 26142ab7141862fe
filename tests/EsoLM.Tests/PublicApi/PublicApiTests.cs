using System.Reflection;
using System.Text;
using EsoLM.Extensions.AI;
using EsoLM.Hosting;

namespace EsoLM.Tests.PublicApi;

/// <summary>
/// The public surface of each package, dumped by reflection (sorted, one line per member) and compared with the
/// checked-in <c>api/{Assembly}.txt</c>. On a mismatch the actual dump is written to <c>api/{Assembly}.received.txt</c>.
/// To accept a change deliberately: <c>ESOLM_UPDATE_API_BASELINE=1 dotnet test tests/EsoLM.Tests --filter PublicApi</c>.
/// </summary>
public sealed class PublicApiTests
{
    public static TheoryData<string> Assemblies => new() { "EsoLM", "EsoLM.Extensions.AI", "EsoLM.ML", "EsoLM.TorchSharp" };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Public_api_matches_the_baseline(string assemblyName)
    {
        var assembly = assemblyName switch
        {
            "EsoLM" => typeof(EsoLmGenerator).Assembly,
            "EsoLM.ML" => typeof(EsoLM.ML.EsoLmCatalog).Assembly,
            "EsoLM.TorchSharp" => typeof(EsoLM.TorchSharp.TorchBackend).Assembly,
            _ => typeof(EsoLmChatClient).Assembly,
        };
        var actual = Dump(assembly);
        var dir = Path.Combine(RepositoryRoot(), "api");
        var baselinePath = Path.Combine(dir, assemblyName + ".txt");
        var receivedPath = Path.Combine(dir, assemblyName + ".received.txt");
        if (Environment.GetEnvironmentVariable("ESOLM_UPDATE_API_BASELINE") == "1")
        {
            File.WriteAllText(baselinePath, actual);
            File.Delete(receivedPath);
            return;
        }

        var expected = File.Exists(baselinePath) ? File.ReadAllText(baselinePath).ReplaceLineEndings("\n") : string.Empty;
        if (expected == actual)
        {
            File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, actual);
        var expectedLines = expected.Split('\n').ToHashSet(StringComparer.Ordinal);
        var actualLines = actual.Split('\n').ToHashSet(StringComparer.Ordinal);
        var diff = new StringBuilder();
        foreach (var line in expected.Split('\n').Where(l => !actualLines.Contains(l)))
        {
            diff.Append("- ").AppendLine(line);
        }

        foreach (var line in actual.Split('\n').Where(l => !expectedLines.Contains(l)))
        {
            diff.Append("+ ").AppendLine(line);
        }

        Assert.Fail($"The public API of {assemblyName} changed (actual written to {receivedPath}). If deliberate, run " +
            $"ESOLM_UPDATE_API_BASELINE=1 dotnet test tests/EsoLM.Tests --filter PublicApi and commit api/{assemblyName}.txt.\n{diff}");
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EsoLM.Net.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("EsoLM.Net.sln not found above " + AppContext.BaseDirectory);
    }

    internal static string Dump(Assembly assembly)
    {
        var lines = new List<string>();
        const BindingFlags Flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var name = TypeName(type);
            lines.Add($"{Kind(type)} {name}{Bases(type)}");
            foreach (var member in type.GetMembers(Flags))
            {
                if (Member(member) is { } text)
                {
                    lines.Add($"  {name}::{text}");
                }
            }
        }

        // Types first in order, their members sorted under them.
        var result = new StringBuilder();
        var groups = new List<(string Head, List<string> Members)>();
        foreach (var line in lines)
        {
            if (!line.StartsWith("  ", StringComparison.Ordinal))
            {
                groups.Add((line, []));
            }
            else
            {
                groups[^1].Members.Add(line);
            }
        }

        foreach (var (head, members) in groups)
        {
            result.Append(head).Append('\n');
            foreach (var m in members.Distinct().Order(StringComparer.Ordinal))
            {
                result.Append(m).Append('\n');
            }
        }

        return result.ToString();
    }

    private static string Kind(Type t) =>
        t.IsInterface ? "interface"
        : t.IsEnum ? "enum"
        : t.IsValueType ? (t.GetMethod("<Clone>$") is not null || t.GetProperty("EqualityContract", BindingFlags.NonPublic | BindingFlags.Instance) is not null ? "record struct" : "struct")
        : typeof(Delegate).IsAssignableFrom(t) ? "delegate"
        : t.IsAbstract && t.IsSealed ? "static class"
        : (t.GetMethod("<Clone>$") is not null ? "record" : "class") + (t.IsSealed ? " sealed" : t.IsAbstract ? " abstract" : string.Empty);

    private static string Bases(Type t)
    {
        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) && b != typeof(MulticastDelegate))
        {
            bases.Add(TypeName(b));
        }

        bases.AddRange(t.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(TypeName).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? string.Empty : " : " + string.Join(", ", bases);
    }

    private static string? Member(MemberInfo member)
    {
        switch (member)
        {
            case ConstructorInfo c when c.IsPublic || c.IsFamily:
                return $"ctor({Parameters(c)})";
            case MethodInfo m when (m.IsPublic || m.IsFamily) && !m.IsSpecialName:
                return $"{(m.IsStatic ? "static " : string.Empty)}{TypeName(m.ReturnType)} {m.Name}{Generic(m)}({Parameters(m)})";
            case PropertyInfo p when (p.GetMethod?.IsPublic ?? false) || (p.SetMethod?.IsPublic ?? false):
                var accessors = (p.GetMethod?.IsPublic == true ? "get; " : string.Empty) +
                    (p.SetMethod?.IsPublic == true ? (p.SetMethod.ReturnParameter.GetRequiredCustomModifiers().Any(x => x.Name == "IsExternalInit") ? "init; " : "set; ") : string.Empty);
                var index = p.GetIndexParameters();
                var indexText = index.Length == 0 ? string.Empty : "[" + string.Join(", ", index.Select(x => TypeName(x.ParameterType))) + "]";
                return $"{((p.GetMethod ?? p.SetMethod)!.IsStatic ? "static " : string.Empty)}{TypeName(p.PropertyType)} {p.Name}{indexText} {{ {accessors}}}";
            case FieldInfo f when f.IsPublic || f.IsFamily:
                if (f.DeclaringType!.IsEnum)
                {
                    return f.IsStatic ? $"{f.Name} = {Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)}" : null;
                }

                return $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : string.Empty)}{(f.IsInitOnly ? "readonly " : string.Empty)}{TypeName(f.FieldType)} {f.Name}" +
                    (f.IsLiteral ? $" = {f.GetRawConstantValue()}" : string.Empty);
            case EventInfo e when e.AddMethod?.IsPublic == true:
                return $"event {TypeName(e.EventHandlerType!)} {e.Name}";
            default:
                return null;
        }
    }

    private static string Generic(MethodInfo m) =>
        m.IsGenericMethodDefinition ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : string.Empty;

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        (p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : string.Empty) + TypeName(p.ParameterType) + " " + p.Name +
        (p.HasDefaultValue ? " = " + (p.DefaultValue?.ToString() ?? "null") : string.Empty)));

    private static string TypeName(Type t)
    {
        if (t.IsByRef)
        {
            return TypeName(t.GetElementType()!);
        }

        if (t.IsArray)
        {
            return TypeName(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        }

        if (t.IsGenericParameter)
        {
            return t.Name;
        }

        var name = t.IsNested ? TypeName(t.DeclaringType!) + "." + t.Name : (t.Namespace is null ? t.Name : t.Namespace + "." + t.Name);
        if (t.IsGenericType)
        {
            var tick = name.IndexOf('`', StringComparison.Ordinal);
            var args = t.GetGenericArguments();
            if (t.IsNested && t.DeclaringType!.IsGenericType)
            {
                args = args.Skip(t.DeclaringType.GetGenericArguments().Length).ToArray();
            }

            name = (tick >= 0 ? name[..tick] : name) + (args.Length > 0 ? "<" + string.Join(", ", args.Select(TypeName)) + ">" : string.Empty);
        }

        return name;
    }
}
