using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>What a forward call returns for each requested row.</summary>
public enum ForwardOutput
{
    /// <summary>Raw logits over the vocabulary (before the mask logit is zeroed out), as the reference model returns them.</summary>
    Logits = 0,

    /// <summary>Log-probabilities of the zero-masked distribution: the mask id gets −∞, the rest is log-softmax of the logits.</summary>
    LogProbabilities = 1,
}
