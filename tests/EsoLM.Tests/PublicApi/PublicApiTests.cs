using System.Reflection;
using System.Text;
using EsoLM.Extensions.AI;
using EsoLM.Hosting;

namespace EsoLM.Tests.PublicApi;

/// <summary>
/// The public surface of each package, dumped by reflection (sorted, one line per member) and compared with the
/// checked-in <c>api/{Assembly}.txt</c>. The test never rewrites the baseline: on a mismatch it fails with a diff and
/// writes the actual dump to <c>artifacts/api/{Assembly}.received.txt</c> (outside the source tree, git-ignored).
/// To accept a change deliberately, run <c>scripts/update-api-baseline.sh</c>, review <c>git diff api/</c> and commit it.
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
        var root = RepositoryRoot();
        var baselinePath = Path.Combine(root, "api", assemblyName + ".txt");
        var receivedDir = Path.Combine(root, "artifacts", "api");
        var receivedPath = Path.Combine(receivedDir, assemblyName + ".received.txt");
        var expected = File.Exists(baselinePath) ? File.ReadAllText(baselinePath).ReplaceLineEndings("\n") : string.Empty;
        if (expected == actual)
        {
            if (File.Exists(receivedPath))
            {
                File.Delete(receivedPath); // a stale file from an earlier mismatch
            }

            return;
        }

        Directory.CreateDirectory(receivedDir);
        File.WriteAllText(receivedPath, actual);
        Assert.Fail($"The public API of {assemblyName} differs from api/{assemblyName}.txt (- baseline, + actual). The actual " +
            $"surface is in {receivedPath}. If the change is deliberate, run scripts/update-api-baseline.sh, review " +
            $"`git diff api/` and commit it.\n{Diff(expected, actual)}");
    }

    /// <summary>Lines only in the baseline (<c>-</c>) and only in the actual dump (<c>+</c>), each in file order.</summary>
    internal static string Diff(string expected, string actual)
    {
        const int MaxLines = 400;
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        var expectedSet = expectedLines.ToHashSet(StringComparer.Ordinal);
        var actualSet = actualLines.ToHashSet(StringComparer.Ordinal);
        var lines = expectedLines.Where(l => l.Length > 0 && !actualSet.Contains(l)).Select(l => "- " + l)
            .Concat(actualLines.Where(l => l.Length > 0 && !expectedSet.Contains(l)).Select(l => "+ " + l))
            .ToList();
        var diff = new StringBuilder();
        foreach (var line in lines.Take(MaxLines))
        {
            diff.AppendLine(line);
        }

        if (lines.Count > MaxLines)
        {
            diff.Append("… and ").Append(lines.Count - MaxLines).AppendLine(" more changed lines (see the received file).");
        }

        return diff.ToString();
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
