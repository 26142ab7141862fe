using EsoLM.Modeling;

namespace EsoLM.Backends;

/// <summary>What a backend runs on.</summary>
/// <param name="Backend">The backend's selection key (<see cref="IComputeBackend.Name"/>).</param>
/// <param name="Device">The device in words, e.g. <c>cpu (AVX-512, 16 threads)</c> or <c>cuda:0</c>.</param>
/// <param name="DataType">Element type of the stored weights, e.g. <c>float32</c>, <c>bfloat16</c>.</param>
public sealed record BackendDescription(string Backend, string Device, string DataType);
