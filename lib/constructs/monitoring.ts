import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  readonly functions: Record<string, lambda.IFunction>;
  readonly deliveryQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly fanoutDeadLetterQueue: sqs.IQueue;
  /** The FIFO queue's own DLQ (crashes and poison messages of ordered subscriptions). */
  readonly orderedDeadLetterQueue?: sqs.IQueue;
  readonly restApi: apigateway.RestApi;
  /** The rule feeding the fan-out function: its failed invocations are lost-event risks. */
  readonly fanoutRule: events.Rule;
  /** The Herald bus the fan-out rule sits on. */
  readonly bus: events.IEventBus;
  /** Where alarm notifications go by email. @default no email subscription */
  readonly alarmEmail?: string;
  /** Age of the oldest waiting delivery job that raises an alarm. @default 15 minutes */
  readonly maxQueueAge?: Duration;
}

/** The EMF namespace the functions write to (lambdas/shared/observability.ts). */
export const METRICS_NAMESPACE = 'Herald';

/**
 * Operator alarms (dead letters present, deliveries waiting too long, fan-out failures, function
 * errors and throttles, API 5xx, subscriptions dead-lettering) to an SNS topic, and a dashboard
 * of the same signals plus Herald's own delivery metrics.
 */
export class Monitoring extends Construct {
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', { enforceSSL: true, masterKey: undefined });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const action = new actions.SnsAction(this.topic);
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const created = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    alarm('DeadLettersPresent', props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), 0,
      'Deliveries exhausted their retry policy or crashed the worker: see GET /v1/dead-letters, then redrive.');
    if (props.orderedDeadLetterQueue) {
      alarm('OrderedDeadLettersPresent', props.orderedDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), 0,
        'Ordered deliveries crashed the worker repeatedly: inspect the FIFO dead-letter queue.');
    }
    alarm('FanoutDeadLettersPresent', props.fanoutDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), 0,
      'Published events that could not be fanned out after EventBridge retries.');
    alarm('DeliveriesWaiting', props.deliveryQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      (props.maxQueueAge ?? Duration.minutes(15)).toSeconds(), 'A delivery job has waited longer than expected (includes scheduled retries).');
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5) }), 0, `${name} function errors`);
      alarm(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(5) }), 0, `${name} function throttles`);
    }
    alarm('Api5xx', props.restApi.metricServerError({ period: Duration.minutes(5) }), 0, 'API answered 5xx');
    alarm('FanoutRuleFailures', new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { EventBusName: props.bus.eventBusName, RuleName: props.fanoutRule.ruleName },
      period: Duration.minutes(5),
      statistic: 'Sum',
    }), 0, 'EventBridge could not invoke the fan-out function (events go to the fan-out DLQ after retries).');

    const herald = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: 'herald' }, period: Duration.minutes(5), statistic });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Delivery queue', left: [props.deliveryQueue.metricApproximateNumberOfMessagesVisible(), props.deliveryQueue.metricApproximateAgeOfOldestMessage()] }),
      new cloudwatch.GraphWidget({ title: 'Dead letters', left: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(), props.fanoutDeadLetterQueue.metricApproximateNumberOfMessagesVisible()] }),
      new cloudwatch.GraphWidget({ title: 'API', left: [props.restApi.metricCount(), props.restApi.metricClientError(), props.restApi.metricServerError()], right: [props.restApi.metricLatency()] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Deliveries',
        left: [herald('deliveries_succeeded'), herald('deliveries_retry'), herald('deliveries_failed'), herald('deliveries_held')],
      }),
      new cloudwatch.GraphWidget({ title: 'Endpoint response time', left: [herald('attempt_duration', 'p50'), herald('attempt_duration', 'p95')] }),
      new cloudwatch.GraphWidget({ title: 'Fan-out size', left: [herald('fanout_size', 'Average'), herald('fanout_size', 'Maximum')] }),
    );
    this.dashboard.addWidgets(
      ...Object.entries(props.functions).map(
        ([name, fn]) => new cloudwatch.GraphWidget({ title: `${name} function`, left: [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()], right: [fn.metricDuration()] }),
      ),
    );
  }
}
